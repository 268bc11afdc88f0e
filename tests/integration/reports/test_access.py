"""Invariant 7 for reports: only the patient, family with view permission and staff who need it.

Every staff read and every download is audited; a refusal never says whether a report exists.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from hospital.pdf import PdfRenderError
from reports import printing
from reports.jobs import release_due_reports
from reports.models import LabReport, ReportSource, ReportStatus
from reports.results import IncomingReport, ResultItem
from reports.services import intake
from tests.integration.reports.conftest import pdf_text, sign_in_as


def _report(
    ward: Any,
    *,
    patient: Any = None,
    test_code: str = "GLU",
    conclusion: str = "",
    name: str = "葡萄糖",
) -> LabReport:
    patient = patient or ward.patient
    (report,) = intake.receive_results(
        ward.hospital,
        [
            IncomingReport(
                medical_record_number=patient.medical_record_number,
                test_code=test_code,
                signed_by="李检验",
                conclusion=conclusion,
                items=[
                    ResultItem(
                        name=name,
                        value="7.9",
                        unit="mmol/L",
                        reference_range="3.9-6.1",
                        flag="high",
                    )
                ],
            )
        ],
        source=ReportSource.STAFF,
        now=utcnow(),
        actor=ward.lab,
    )
    db.session.commit()
    return report


def _audits(action: str, outcome: str = "success") -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action, AuditEntry.outcome == outcome)
        )
    )


PATHS = (
    "/api/v1/reports/{id}",
    "/api/v1/reports/{id}/pdf",
    "/reports/{id}",
    "/reports/{id}/pdf",
    "/reports/{id}/document",
)


def test_another_patients_report_is_not_found(client: Any, ward: Any) -> None:
    theirs = _report(ward, patient=ward.stranger_patient)
    sign_in_as(client, ward.patient_account)
    for path in PATHS:
        response = client.get(path.format(id=theirs.public_id))
        assert response.status_code == 404, path
    assert len(_audits("report.read", "denied")) >= 1
    assert len(_audits("report.download", "denied")) >= 1


def test_a_guessed_id_is_not_found(client: Any, ward: Any) -> None:
    report = _report(ward)
    sign_in_as(client, ward.patient_account)
    for guess in (
        str(report.id),
        "1",
        report.public_id[:-1] + ("A" if report.public_id[-1] != "A" else "B"),
        report.report_number,
    ):
        for path in PATHS:
            assert client.get(path.format(id=guess)).status_code == 404, (guess, path)


@pytest.mark.parametrize(
    "path",
    [
        "/reports/..%2F..%2Fetc%2Fpasswd/pdf",
        "/reports/%2E%2E/%2E%2E/etc/passwd",
        "/api/v1/reports/..%2F..%2Fetc%2Fpasswd/pdf",
        "/reports/{id}/pdf?version=../../etc/passwd",
        "/reports/{id}/document?version=..%2F..%2Fetc%2Fpasswd",
        "/api/v1/reports/{id}/pdf?version=../../../etc/passwd",
        "/reports/{id}/..%2F..%2F..%2Fetc%2Fpasswd",
        "/reports/verify/..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_path_traversal_in_file_parameters_is_refused(client: Any, ward: Any, path: str) -> None:
    report = _report(ward)
    sign_in_as(client, ward.patient_account)
    response = client.get(path.format(id=report.public_id))
    assert response.status_code in (400, 404, 422)
    assert b"root:" not in response.data


def test_a_family_link_without_view_permission_sees_nothing(client: Any, ward: Any) -> None:
    report = _report(ward)
    sign_in_as(client, ward.nosy_account)
    assert client.get("/api/v1/reports/").json == []
    for path in PATHS:
        assert client.get(path.format(id=report.public_id)).status_code == 404


def test_staff_without_a_reporting_role_cannot_read(client: Any, ward: Any) -> None:
    report = _report(ward)
    sign_in_as(client, ward.nurse)
    assert client.get(f"/api/v1/reports/{report.public_id}").status_code == 404
    assert (
        client.get(
            f"/api/v1/reports/?medical_record_number={ward.patient.medical_record_number}"
        ).status_code
        == 404
    )


def test_staff_of_another_hospital_cannot_read(
    client: Any, ward: Any, create_hospital: Any, create_account: Any
) -> None:
    from hospital.accounts.models import Role

    report = _report(ward)
    elsewhere = create_account(create_hospital(), roles=(Role.ADMIN,))
    db.session.commit()
    sign_in_as(client, elsewhere)
    assert client.get(f"/api/v1/reports/{report.public_id}").status_code == 404


def test_every_staff_read_and_every_download_is_audited(client: Any, ward: Any) -> None:
    report = _report(ward, test_code="HIV")  # unreleased: staff only
    sign_in_as(client, ward.clinician)
    response = client.get(f"/api/v1/reports/{report.public_id}")
    assert response.status_code == 200 and response.json["status"] == "ordered"
    reads = _audits("report.read")
    assert [(a.actor_account_id, a.patient_id, a.object_id) for a in reads] == [
        (ward.clinician.id, ward.patient.id, report.report_number)
    ]
    search = client.get(
        f"/api/v1/reports/?medical_record_number={ward.patient.medical_record_number}"
    )
    assert search.status_code == 200 and search.json[0]["id"] == report.public_id
    assert len(_audits("report.search")) == 1
    # The patient cannot see it before release, and the clinician's read did not mark it viewed.
    assert db.session.get(LabReport, report.id).status is ReportStatus.ORDERED
    sign_in_as(client, ward.patient_account)
    assert client.get(f"/api/v1/reports/{report.public_id}").status_code == 404
    released = _report(ward)
    for account in (ward.patient_account, ward.family_account, ward.lab):
        sign_in_as(client, account)
        assert client.get(f"/reports/{released.public_id}/pdf").status_code == 200
    downloads = _audits("report.download")
    assert {a.actor_account_id for a in downloads} == {
        ward.patient_account.id,
        ward.family_account.id,
        ward.lab.id,
    }


def test_anonymous_visitors_are_sent_to_sign_in(client: Any, ward: Any) -> None:
    report = _report(ward)
    assert client.get(f"/api/v1/reports/{report.public_id}").status_code == 401
    page = client.get(f"/reports/{report.public_id}/pdf")
    assert page.status_code == 302 and "sign" in page.headers["Location"]


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_user_text_cannot_fetch_urls_or_read_files(ward: Any) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/x.png"
        evil = (
            f'<img src="{url}"><link rel="stylesheet" href="{url}">'
            '<img src="file:///etc/passwd"><style>@import url("file:///etc/hostname");</style>'
        )
        report = _report(ward, conclusion=evil, name=f'<iframe src="{url}">')
        text = pdf_text(report.current.pdf)
        assert "<img src=" in text  # printed as text, not obeyed
        assert "root:" not in text
        assert _Recorder.hits == []
        # Even unescaped HTML cannot reach out: the fetcher refuses every outside URL.
        html = f'<html><body><img src="{url}"><img src="file:///etc/passwd"></body></html>'
        printing.render_report_pdf(html)
        assert _Recorder.hits == []
    finally:
        server.shutdown()
        server.server_close()


def test_render_time_is_bounded_and_nothing_is_half_released(ward: Any, monkeypatch: Any) -> None:
    real = printing.render_pdf

    def too_slow(html: str, *, css: Any = (), timeout_s: float = 20, base_url: Any = None) -> bytes:
        raise PdfRenderError(f"rendering the PDF took longer than {timeout_s:g} s")

    monkeypatch.setattr(printing, "render_pdf", too_slow)
    assert printing.RENDER_TIMEOUT_S <= 30
    report = _report(ward)
    assert report.status is ReportStatus.ORDERED and report.released_version is None
    assert report.current.pdf is None and report.release_due_at is not None
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    monkeypatch.setattr(printing, "render_pdf", real)
    assert release_due_reports(now=utcnow()) == 1
    assert report.status is ReportStatus.READY and report.current.pdf.startswith(b"%PDF-")
