"""The cashier console: orders of the day, refunds with reasons, daily reconciliation as CSV and PDF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hospital.accounts.models import Role
from hospital.billing.models import Order, Payment
from hospital.db import db, utcnow
from tests.support.auth import sign_in
from tests.support.billing_factories import paid_visit_order


def _today(hospital: Any) -> str:
    return utcnow().astimezone(ZoneInfo(hospital.timezone)).date().isoformat()


def test_cashier_refunds_from_the_console_and_sees_it_in_reconciliation(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    day = _today(hospital)
    page = client.get(f"/billing/cashier?date={day}")
    assert page.status_code == 200
    assert f'data-order="{order.id}"' in page.get_data(as_text=True)
    done = client.post(
        f"/billing/cashier/orders/{order.id}/refund",
        data={"amount": "12.50", "reason": "少做一项检查", "date": day},
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_fen == 1250
    report = client.get(f"/billing/cashier/reconciliation?date={day}")
    assert report.status_code == 200
    html = report.get_data(as_text=True)
    assert "50.00" in html and "12.50" in html and "37.50" in html


def test_reconciliation_csv_cannot_carry_a_formula(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    payment = db.session.query(Payment).filter_by(order_id=order.id).one()
    payment.provider_txn_id = '=HYPERLINK("http://evil.example","x")'
    db.session.flush()
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    response = client.get(f"/billing/cashier/reconciliation?date={_today(hospital)}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text and ',"=HYPERLINK' not in text


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")
def test_reconciliation_pdf(
    client: Any, hospital: Any, create_account: Any, tmp_path: Path
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    response = client.get(f"/billing/cashier/reconciliation?date={_today(hospital)}&format=pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    target = tmp_path / "r.pdf"
    target.write_bytes(response.data)
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True).stdout
    assert order.receipt_no in text


def test_patients_cannot_open_the_cashier_console(
    client: Any, hospital: Any, create_account: Any
) -> None:
    sign_in(client, create_account(hospital))
    assert client.get("/billing/cashier").status_code == 403
    assert client.get("/billing/cashier/reconciliation?format=csv").status_code == 403
    assert client.post("/billing/cashier/orders/1/refund", data={"reason": "x"}).status_code == 403


def test_a_full_refund_asks_first_and_reconciliation_reads_local_time(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _ = paid_visit_order(hospital, now=utcnow())
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    day = _today(hospital)
    asked = client.post(
        f"/billing/cashier/orders/{order.id}/refund?lang=en",
        data={"amount": "", "reason": "患者未就诊", "date": day},
    )
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "Refund everything?" in page and "¥50.00" in page and 'value="患者未就诊"' in page
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_fen == 0  # asking refunded nothing
    done = client.post(
        f"/billing/cashier/orders/{order.id}/refund",
        data={"amount": "", "reason": "患者未就诊", "date": day, "confirm": "full"},
    )
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order.id).refunded_fen == 5000

    html = client.get(f"/billing/cashier/reconciliation?date={day}&lang=en").get_data(as_text=True)
    assert " UTC" not in html
    assert "Sandbox (test payments)" in html and "<td>sandbox</td>" not in html
    paid_at = db.session.get(Order, order.id).paid_at
    assert paid_at is not None
    assert paid_at.astimezone(ZoneInfo(hospital.timezone)).strftime("%H:%M") in html


def test_a_pending_order_shows_what_is_due_not_only_the_zero_paid(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    """The demo's desk bookings read "待缴费 ¥0.00": an unpaid order showed only its Paid column."""
    from tests.support.billing_factories import create_visit_order

    order = create_visit_order(hospital, create_patient(hospital), now=utcnow())
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    db.session.commit()
    sign_in(client, cashier)
    html = client.get(f"/billing/cashier?date={_today(hospital)}").get_data(as_text=True)
    row = html.split(f'data-order="{order.id}"', 1)[1].split("</tr>", 1)[0]
    assert "待缴费" in row
    assert row.split("data-amount>", 1)[1].startswith("¥50.00")
