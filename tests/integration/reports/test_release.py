"""Release rules, notification through the outbox, clinician release and amendments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from reports.jobs import release_due_reports
from reports.models import LabReport, ReportSource, ReportStatus
from reports.results import IncomingReport, ResultItem
from reports.services import intake, release
from tests.integration.reports.conftest import sign_in_as
from tests.support.reports_factories import report_args


def _incoming(ward: Any, test_code: str, value: str = "7.9", order: str = "") -> IncomingReport:
    return IncomingReport(
        medical_record_number=ward.patient.medical_record_number,
        test_code=test_code,
        test_name="检验",
        order_reference=order,
        signed_by="李检验",
        items=[
            ResultItem(
                name="葡萄糖", value=value, unit="mmol/L", reference_range="3.9-6.1", flag="high"
            )
        ],
    )


def _receive(ward: Any, test_code: str, *, now: Any = None, **kw: Any) -> LabReport:
    (report,) = intake.receive_results(
        ward.hospital,
        [_incoming(ward, test_code, **kw)],
        source=ReportSource.STAFF,
        now=now or utcnow(),
        actor=ward.lab,
    )
    return report


def _recipients(report: LabReport) -> set[str]:
    rows = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.patient_id == report.patient_id)
    )
    return {m.recipient for m in rows}


def test_immediate_release_notifies_patient_and_family_with_view_permission(ward: Any) -> None:
    report = _receive(ward, "GLU")
    assert report.status is ReportStatus.READY and report.released_version == 1
    version = report.current
    assert version.pdf.startswith(b"%PDF-") and len(version.pdf_sha256) == 64
    recipients = _recipients(report)
    assert ward.patient.phone in recipients
    assert ward.family_account.phone in recipients
    assert ward.nosy_account.phone not in recipients  # linked, but may not see reports
    assert ward.stranger.phone not in recipients
    bodies = [m.body for m in db.session.scalars(sa.select(OutboxMessage))]
    assert all(report.report_number in b and report.public_id in b for b in bodies)
    assert all("7.9" not in b and "检验" not in b for b in bodies)  # no test or values in an SMS
    assert any("报告" in b and "已出" in b for b in bodies)  # in the recipient's language (zh)


def test_delayed_release_waits_for_the_job(ward: Any) -> None:
    from hospital.jobs import REGISTRY

    assert REGISTRY["reports.release_due"].func is release_due_reports
    start = utcnow()
    report = _receive(ward, "LFT", now=start)
    assert report.status is ReportStatus.ORDERED and report.release_due_at == start + timedelta(
        minutes=60
    )
    assert _recipients(report) == set()
    assert release_due_reports(now=start + timedelta(minutes=59)) == 0
    assert report.status is ReportStatus.ORDERED
    assert release_due_reports(now=start + timedelta(minutes=60)) == 1
    assert report.status is ReportStatus.READY and ward.patient.phone in _recipients(report)
    assert release_due_reports(now=start + timedelta(minutes=61)) == 0  # released once


def test_sensitive_results_wait_for_a_clinician(client: Any, ward: Any) -> None:
    report = _receive(ward, "HIV")
    assert report.status is ReportStatus.ORDERED and report.release_due_at is None
    assert release_due_reports(now=utcnow() + timedelta(days=30)) == 0
    db.session.commit()
    sign_in_as(client, ward.lab)
    assert client.post(f"/api/v1/reports/{report.public_id}/release", json={}).status_code == 403
    sign_in_as(client, ward.clinician)
    response = client.post(f"/api/v1/reports/{report.public_id}/release", json={})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "ready"
    assert client.post(f"/api/v1/reports/{report.public_id}/release", json={}).status_code == 409
    assert ward.patient.phone in _recipients(report)


def test_unknown_test_types_are_held_for_a_clinician(ward: Any) -> None:
    report = _receive(ward, "NEWTEST")
    assert report.status is ReportStatus.ORDERED and report.release_due_at is None


def test_amendment_keeps_every_earlier_version_visible(client: Any, ward: Any) -> None:
    report = _receive(ward, "GLU")
    first_hash = report.current.pdf_sha256
    db.session.commit()
    sign_in_as(client, ward.lab)
    body = {k: v for k, v in report_args("x").items() if k in ("signed_by", "items")}
    body["items"][0]["value"] = "5.2"
    response = client.post(
        f"/api/v1/reports/{report.public_id}/amendments", json={**body, "reason": "仪器校准错误"}
    )
    assert response.status_code == 201, response.json
    assert [v["version"] for v in response.json["versions"]] == [2, 1]
    assert response.json["status"] == "amended"
    assert report.version(1).pdf_sha256 == first_hash  # the first issue is untouched
    assert (
        client.post(f"/api/v1/reports/{report.public_id}/amendments", json=body).status_code == 422
    )

    sign_in_as(client, ward.patient_account)
    seen = client.get(f"/api/v1/reports/{report.public_id}").json
    assert [v["version"] for v in seen["versions"]] == [2, 1]
    assert seen["versions"][0]["amendment_reason"] == "仪器校准错误"
    assert seen["versions"][1]["items"][0]["value"] == "7.9"
    page = client.get(f"/reports/{report.public_id}").get_data(as_text=True)
    assert "仪器校准错误" in page and 'data-version="1"' in page
    templates = {m.template for m in db.session.scalars(sa.select(OutboxMessage))}
    assert templates == {"reports.ready", "reports.amended"}


def test_a_pending_amendment_of_a_sensitive_report_stays_hidden(client: Any, ward: Any) -> None:
    report = _receive(ward, "HIV", order="O-9")
    release.release_by_clinician(report, actor=ward.clinician, now=utcnow())
    intake.amend(
        report, _incoming(ward, "HIV", value="1.0"), reason="复核", now=utcnow(), actor=ward.lab
    )
    assert report.current_version == 2 and report.released_version == 1
    db.session.commit()
    sign_in_as(client, ward.patient_account)
    seen = client.get(f"/api/v1/reports/{report.public_id}").json
    assert [v["version"] for v in seen["versions"]] == [1]
    assert client.get(f"/api/v1/reports/{report.public_id}/pdf?version=2").status_code == 404


def test_admin_sets_a_release_rule(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.admin)
    response = client.put(
        "/api/v1/reports/test-types/TSH",
        json={
            "name_zh": "促甲状腺激素",
            "name_en": "TSH",
            "release_rule": "delayed",
            "release_delay_minutes": 120,
        },
    )
    assert response.status_code == 200, response.json
    bad = client.put(
        "/api/v1/reports/test-types/TSH",
        json={
            "name_zh": "x",
            "name_en": "x",
            "release_rule": "immediate",
            "release_delay_minutes": 5,
        },
    )
    assert bad.status_code == 422 and "release_delay_minutes" in bad.json["message"]
    assert (
        client.put(
            "/api/v1/reports/test-types/TSH",
            json={"name_zh": "x", "name_en": "x", "release_rule": "soon"},
        ).status_code
        == 422
    )
    sign_in_as(client, ward.lab)
    assert (
        client.put(
            "/api/v1/reports/test-types/TSH",
            json={"name_zh": "x", "name_en": "x", "release_rule": "immediate"},
        ).status_code
        == 403
    )
