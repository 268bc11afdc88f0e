"""Lab intake finds the patient by record number, ID number or visit code, and the doctor
releases reports held for a clinician with one button."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.visits.services import hospital_day, visit_for
from reports.models import LabReport, ReportStatus
from tests.integration.reports.conftest import sign_in_as

FORM = {
    "test_code": "GLU",
    "test_name": "血糖",
    "signed_by": "李检验",
    "results": "葡萄糖 | 7.9 | mmol/L | 3.9-6.1\n",
}


def _reports() -> list[LabReport]:
    return list(db.session.scalars(sa.select(LabReport).order_by(LabReport.id)))


def _audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_intake_by_id_number_finds_the_patient_and_audits_the_read(client: Any, ward: Any) -> None:
    sign_in_as(client, ward.lab)
    page = client.get("/reports/lab/new?lang=en").get_data(as_text=True)
    assert 'name="patient"' in page and "Record number, ID number or visit code" in page
    assert 'data-test-type="HIV"' in page  # the hospital's test types are offered
    response = client.post("/reports/lab/new", data={**FORM, "patient": ward.patient.id_number})
    assert response.status_code == 302, response.get_data(as_text=True)
    (report,) = _reports()
    assert report.patient_id == ward.patient.id
    (audit,) = _audits("patient.lookup.lab")
    assert audit.patient_id == ward.patient.id and audit.actor_account_id == ward.lab.id


def test_intake_by_visit_code_resolves_the_visit(client: Any, ward: Any) -> None:
    now = utcnow()
    visit = visit_for(
        hospital_id=ward.hospital.id,
        patient_id=ward.patient.id,
        service_date=hospital_day(ward.hospital.id, now),
        now=now,
    )
    db.session.commit()
    sign_in_as(client, ward.lab)
    spaced = visit.code[:6] + " " + visit.code[6:].lower()  # as typed off a phone
    response = client.post("/reports/lab/new", data={**FORM, "patient": spaced})
    assert response.status_code == 302, response.get_data(as_text=True)
    (report,) = _reports()
    assert report.patient_id == ward.patient.id
    assert _audits("visit.lab.read")


def test_intake_refuses_an_unknown_visit_code_or_number_with_the_form_and_stores_nothing(
    client: Any, ward: Any
) -> None:
    sign_in_as(client, ward.lab)
    for wrong in ("V-AAAAAAAAAAAAAAAAAAAAAAAA", "110101199001011234", ""):
        response = client.post("/reports/lab/new?lang=en", data={**FORM, "patient": wrong})
        assert response.status_code == 422, wrong
        assert 'data-error="patient"' in response.get_data(as_text=True)
    assert _reports() == []


def _held_report(client: Any, ward: Any) -> LabReport:
    sign_in_as(client, ward.lab)
    response = client.post(
        "/reports/lab/new",
        data={**FORM, "test_code": "HIV", "patient": ward.patient.medical_record_number},
    )
    assert response.status_code == 302
    (report,) = _reports()
    assert report.released_version is None and report.status is ReportStatus.ORDERED
    return report


def test_doctor_releases_a_report_held_for_a_clinician_with_one_button(
    client: Any, ward: Any
) -> None:
    report = _held_report(client, ward)
    sign_in_as(client, ward.clinician)
    page = client.get("/reports/lab/awaiting-release?lang=en").get_data(as_text=True)
    assert f'data-report="{report.public_id}"' in page
    assert f'action="/reports/lab/{report.public_id}/release"' in page
    assert "张三明" not in page  # the list masks names
    assert _audits("report.awaiting_release.list")

    released = client.post(f"/reports/lab/{report.public_id}/release")
    assert released.status_code == 303
    db.session.expire_all()
    report = db.session.get_one(LabReport, report.id)
    assert report.released_version == 1 and report.status is ReportStatus.READY
    assert report.released_by_account_id == ward.clinician.id
    page = client.get("/reports/lab/awaiting-release").get_data(as_text=True)
    assert f'data-report="{report.public_id}"' not in page and "data-empty" in page
    # Released twice is refused, not a 500.
    assert client.post(f"/reports/lab/{report.public_id}/release").status_code == 409


def test_lab_staff_see_the_held_list_without_a_release_button_and_may_not_release(
    client: Any, ward: Any
) -> None:
    report = _held_report(client, ward)
    page = client.get("/reports/lab/awaiting-release").get_data(as_text=True)
    assert f'data-report="{report.public_id}"' in page
    assert 'data-action="release-report"' not in page
    assert client.post(f"/reports/lab/{report.public_id}/release").status_code == 403
    sign_in_as(client, ward.nurse)
    assert client.get("/reports/lab/awaiting-release").status_code == 403
