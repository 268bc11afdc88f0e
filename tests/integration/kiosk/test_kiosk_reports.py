"""A patient prints a released report at the kiosk after confirming the phone with a code."""

from __future__ import annotations

from typing import Any

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from reports.models import LabReport, ReportSource
from reports.results import IncomingReport, ResultItem
from reports.services import intake, release
from tests.integration.kiosk.conftest import KioskWorld
from tests.integration.kiosk.test_kiosk_walk_in_booking import _confirm_phone


def _released_report(world: KioskWorld, patient: Any, lab: Any) -> LabReport:
    (report,) = intake.receive_results(
        world.hospital,
        [
            IncomingReport(
                medical_record_number=patient.medical_record_number,
                test_code="GLU",
                test_name="空腹血糖",
                signed_by="李检验",
                items=[
                    ResultItem(name="葡萄糖", value="7.9", unit="mmol/L", reference_range="3.9-6.1")
                ],
            )
        ],
        source=ReportSource.STAFF,
        now=utcnow(),
        actor=lab,
    )
    release.release(report, now=utcnow())
    db.session.commit()
    return report


def test_a_released_report_prints_after_a_texted_code(
    kiosk_client: Any, world: KioskWorld, create_account: Any, create_patient: Any
) -> None:
    lab = create_account(world.hospital, roles=(Role.LAB,))
    mine = _released_report(world, world.patient, lab)
    stranger = _released_report(world, create_patient(world.hospital, name="李四"), lab)
    confirmation = _confirm_phone(kiosk_client, world)

    listed = kiosk_client.post(
        "/api/v1/kiosk/reports", json={"confirmation": confirmation}, headers=world.headers
    )
    assert listed.status_code == 200, listed.get_json()
    assert [r["public_id"] for r in listed.get_json()] == [mine.public_id]
    assert listed.get_json()[0]["masked_name"] == "张*明"

    pdf = kiosk_client.post(
        f"/api/v1/kiosk/reports/{mine.public_id}/pdf",
        json={"confirmation": confirmation},
        headers=world.headers,
    )
    assert pdf.status_code == 200
    assert pdf.data.startswith(b"%PDF")
    refused = kiosk_client.post(
        f"/api/v1/kiosk/reports/{stranger.public_id}/pdf",
        json={"confirmation": confirmation},
        headers=world.headers,
    )
    assert refused.status_code == 404


def test_reports_need_a_confirmed_phone(kiosk_client: Any, world: KioskWorld) -> None:
    response = kiosk_client.post(
        "/api/v1/kiosk/reports", json={"confirmation": "guess"}, headers=world.headers
    )
    assert response.status_code == 401


def test_no_released_report_is_said_plainly(kiosk_client: Any, world: KioskWorld) -> None:
    confirmation = _confirm_phone(kiosk_client, world)
    response = kiosk_client.post(
        "/api/v1/kiosk/reports", json={"confirmation": confirmation}, headers=world.headers
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "no_released_report"
