"""Receipt PDFs carry real Chinese text and a QR code to a public page that reveals nothing personal."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hospital.billing import receipts
from hospital.db import db, utcnow
from hospital.patients.models import Patient
from tests.support.auth import sign_in
from tests.support.billing_factories import create_visit_order, paid_visit_order

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")


def pdf_text(data: bytes, tmp_path: Path) -> str:
    target = tmp_path / "receipt.pdf"
    target.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(target), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("size", ["a4", "80mm"])
def test_receipt_pdf_has_real_chinese_text_and_a_masked_identity(
    client: Any, hospital: Any, tmp_path: Path, size: str
) -> None:
    order, owner = paid_visit_order(hospital, now=utcnow(), name="李四光")
    patient = db.session.get(Patient, order.patient_id)
    sign_in(client, owner)
    response = client.get(
        f"/billing/orders/{order.id}/receipt.pdf?size={size}", headers={"Accept-Language": "zh"}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data, tmp_path)
    assert hospital.name_zh in text
    assert "缴费收据" in text and "收据号" in text  # the labels, in the reader's Chinese
    assert "血常规" in text
    assert "李四光" in text
    assert order.receipt_no in text
    assert patient.id_number not in text
    assert patient.id_number[:6] in text and patient.id_number[-4:] in text
    assert re.search(r"50\.00", text)
    assert len(response.data) < 400_000


def test_the_verification_page_shows_only_number_amount_and_date(
    client: Any, hospital: Any
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow(), name="李四光")
    db.session.commit()
    view = receipts.receipt_view(order)
    assert view.verify_url.endswith(f"/billing/verify/{order.verification_token}")
    page = client.get(f"/billing/verify/{order.verification_token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert order.receipt_no in html and "50.00" in html
    assert "李四光" not in html and "李*光" not in html
    assert client.get("/billing/verify/not-a-real-token").status_code == 404


def test_an_unpaid_order_has_no_receipt(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(hospital, patient, now=utcnow())
    sign_in(client, account)
    assert client.get(f"/billing/orders/{order.id}/receipt.pdf").status_code == 404
    assert client.get(f"/api/v1/billing/orders/{order.id}/receipt").status_code == 409
