"""The patient's inbox, the readable view, the PDF and the public verification page."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.patients.identity import mask_id_number
from reports import printing
from reports.models import LabReport, ReportSource, ReportStatus
from reports.results import IncomingReport, ResultItem
from reports.services import intake, release
from tests.integration.reports.conftest import pdf_pages, pdf_text, receive_cbc, sign_in_as


def _cbc(ward: Any, rows: int = 6, patient: Any = None) -> LabReport:
    items = [
        ResultItem(
            name=f"检验项目{i} Test {i}",
            code=f"T{i}",
            value=str(3 + i % 5),
            unit="mmol/L",
            reference_range="3.5-5.5",
            flag=None,
        )
        for i in range(rows)
    ]
    from reports.results import flag_from_range

    for item in items:
        item.flag = flag_from_range(item.value, item.reference_range)
    return receive_cbc(ward, items, patient=patient)


def test_inbox_lists_my_and_my_familys_reports_only(client: Any, ward: Any) -> None:
    mine = _cbc(ward)
    other = _cbc(ward, patient=ward.stranger_patient)
    for account in (ward.patient_account, ward.family_account):
        sign_in_as(client, account)
        ids = [r["id"] for r in client.get("/api/v1/reports/").json]
        assert ids == [mine.public_id]
        page = client.get("/reports/")
        assert page.status_code == 200 and mine.public_id in page.get_data(as_text=True)
        assert other.public_id not in page.get_data(as_text=True)
        assert page.headers["Cache-Control"] == "no-store"
    sign_in_as(client, ward.nosy_account)
    assert client.get("/api/v1/reports/").json == []


def test_report_view_marks_abnormal_values_in_words_and_records_viewing(
    client: Any, ward: Any
) -> None:
    report = _cbc(ward)
    sign_in_as(client, ward.patient_account)
    response = client.get(f"/reports/{report.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "↑" in html and "↓" in html  # arrows and words, not only colour
    assert 'data-flag="high"' in html and 'data-flag="low"' in html
    assert db.session.get(LabReport, report.id).status is ReportStatus.VIEWED
    assert report.first_viewed_at is not None


def test_pdf_download_has_the_letterhead_masked_id_items_and_page_numbers(
    client: Any, ward: Any
) -> None:
    report = _cbc(ward, rows=45)
    sign_in_as(client, ward.patient_account)
    response = client.get(f"/reports/{report.public_id}/pdf")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    # Only the random-numbered report number: no patient id or name.
    assert disposition == f'attachment; filename="report-{report.report_number}-v1.pdf"'
    assert ward.patient.name not in disposition
    text = pdf_text(response.data)
    assert ward.hospital.name_zh in text  # letterhead
    assert "张三明" in text  # Chinese as real text
    assert mask_id_number(ward.patient.id_number) in text
    assert ward.patient.id_number not in text
    assert "3.5-5.5" in text and "偏高" in text and "偏低" in text
    assert "李检验" in text and "Released at" in text
    assert pdf_pages(response.data) >= 2
    assert re.search(r"Page 2 of \d", text)
    assert "/reports/verify/" in text
    # The QR holds exactly the verification address (no decoder here: compare the encoding).
    from hospital.qr import qr_png_data_uri

    html = printing.report_html(
        report,
        report.current,
        hospital=ward.hospital,
        patient=ward.patient,
        verify_url=release.verification_url(report.current.verification_code),
        issued_at=report.current.issued_at,
    )
    expected = qr_png_data_uri(
        f"http://hospital.test/reports/verify/{report.current.verification_code}", border=1
    )
    assert expected in html
    assert (
        db.session.get(LabReport, report.id).status is ReportStatus.VIEWED
    )  # a download is a view
    assert hashlib.sha256(response.data).hexdigest() == report.current.pdf_sha256


def test_verification_page_shows_only_what_it_should(client: Any, ward: Any) -> None:
    report = _cbc(ward)
    version = report.current
    url = f"/reports/verify/{version.verification_code}"
    anonymous = client.get(url)
    html = anonymous.get_data(as_text=True)
    assert anonymous.status_code == 200
    assert report.report_number in html and ward.hospital.name_zh in html
    assert "张三明" not in html and "检验项目" not in html and "mmol/L" not in html
    assert 'data-match="unknown"' in html
    ok = client.post(
        url, data={"file": (io.BytesIO(version.pdf), "r.pdf")}, content_type="multipart/form-data"
    )
    assert 'data-match="yes"' in ok.get_data(as_text=True)
    changed = version.pdf.replace(b"%PDF-", b"%PDF-", 1) + b"\n% edited"
    bad = client.post(
        url, data={"file": (io.BytesIO(changed), "r.pdf")}, content_type="multipart/form-data"
    )
    assert 'data-match="no"' in bad.get_data(as_text=True)
    by_hash = client.get(url + f"?sha256={version.pdf_sha256}")
    assert 'data-match="yes"' in by_hash.get_data(as_text=True)
    assert client.get("/reports/verify/not-a-real-code-000").status_code == 404


def test_a_changed_stored_file_is_refused_and_logged(client: Any, ward: Any) -> None:
    report = _cbc(ward)
    version = report.current
    version.pdf = version.pdf + b"tampered"
    db.session.commit()
    sign_in_as(client, ward.patient_account)
    response = client.get(f"/reports/{report.public_id}/pdf")
    assert response.status_code == 409
    assert "integrity" in response.get_data(as_text=True)
    entry = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "report.download", AuditEntry.outcome == "failed"
        )
    )
    assert entry is not None and entry.detail["reason"] == "sha256_mismatch"
    verify = client.get(f"/reports/verify/{version.verification_code}")
    assert 'data-match="stored-broken"' in verify.get_data(as_text=True)


def test_attached_document_downloads_after_its_hash_check(client: Any, ward: Any) -> None:
    from reports.results import ResultDocument
    from tests.support.reports_factories import TINY_PDF

    (report,) = intake.receive_results(
        ward.hospital,
        [
            IncomingReport(
                medical_record_number=ward.patient.medical_record_number,
                test_code="CBC",
                signed_by="影像科",
                document=ResultDocument("application/pdf", TINY_PDF),
            )
        ],
        source=ReportSource.STAFF,
        now=utcnow(),
        actor=ward.lab,
    )
    db.session.commit()
    sign_in_as(client, ward.family_account)
    response = client.get(f"/api/v1/reports/{report.public_id}/document")
    assert response.status_code == 200 and response.data == TINY_PDF
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
