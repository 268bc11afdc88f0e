"""Refunds of an order paid partly from insurance personal accounts show every part.

The cashier's refund answer, the console's message and the receipt list the cash, fund, own
account and family account (家庭共济) parts; the daily reconciliation counts the accounts'
charges and credits as lines of their own, so the day adds up.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.billing import receipts
from hospital.billing.models import Order, Refund
from hospital.billing.services import insured
from hospital.db import db, utcnow
from tests.support.auth import sign_in
from tests.support.insurance_factories import paid_with_family_help


def _today(hospital: Any) -> str:
    return utcnow().astimezone(ZoneInfo(hospital.timezone)).date().isoformat()


def test_the_refund_answer_lists_cash_own_and_family_account_parts(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, (_daughter, me, father, _registrar) = paid_with_family_help(hospital)
    family_before = insured.balance_of(me.id)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    url = f"/api/v1/billing/orders/{order.id}/refunds"
    headers = {"Idempotency-Key": "ins2-refund-parts-1"}
    response = client.post(url, json={"amount_fen": 2000, "reason": "退一半"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    parts = {
        p["source"]: (p["amount_fen"], p["status"], p["payment_id"] is None)
        for p in response.get_json()
    }
    assert parts == {
        "personal_account": (500, "succeeded", True),
        "family_account": (500, "succeeded", True),
        "self_pay": (1000, "succeeded", False),
    }
    assert all(p["account_charge_id"] for p in response.get_json() if p["payment_id"] is None)
    assert insured.balance_of(father.id) == 500
    assert insured.balance_of(me.id) == (family_before or 0) + 500
    # the same key answers the same parts and refunds nothing more
    again = client.post(url, json={"amount_fen": 2000, "reason": "退一半"}, headers=headers)
    assert again.status_code == 201
    assert sorted(p["id"] for p in again.get_json()) == sorted(p["id"] for p in response.get_json())
    db.session.expire_all()
    assert db.session.get_one(Order, order.id).refunded_fen == 2000
    assert db.session.scalar(sa.select(sa.func.count(Refund.id))) == 3
    # the receipt names each part
    view = receipts.receipt_view(db.session.get_one(Order, order.id))
    assert view.refunds == {"self_pay": 1000, "personal_account": 500, "family_account": 500}
    html = receipts.receipt_html(db.session.get_one(Order, order.id))
    assert 'data-refund-source="family_account"' in html
    assert "家人医保个人账户（家庭共济）" in html


def test_the_console_says_where_the_money_went(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _family = paid_with_family_help(hospital)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    day = _today(hospital)
    done = client.post(
        f"/billing/cashier/orders/{order.id}/refund",
        data={"amount": "40.00", "reason": "停诊", "date": day},
        follow_redirects=True,
    )
    assert done.status_code == 200
    text = done.get_data(as_text=True)
    assert "本人医保个人账户 ¥10.00" in text and "现金（支付渠道） ¥20.00" in text


def test_reconciliation_counts_the_insurance_accounts_so_the_day_adds_up(
    client: Any, hospital: Any, create_account: Any
) -> None:
    order, _family = paid_with_family_help(hospital)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    assert (
        client.post(
            f"/api/v1/billing/orders/{order.id}/refunds",
            json={"amount_fen": 2000, "reason": "退一半"},
        ).status_code
        == 201
    )
    day = _today(hospital)
    report = client.get(f"/api/v1/billing/reconciliation?date={day}").get_json()
    received, refunded = report["received_fen"], report["refunded_fen"]
    assert received["personal_account"] == 1000 and received["family_account"] == 1000
    assert refunded["personal_account"] == 500 and refunded["family_account"] == 500
    # everything the order was paid, less everything refunded
    assert sum(received.values()) == order.paid_fen == 4000
    assert report["net_fen"] == 2000
    lines = {(ln["kind"], ln["provider"]) for ln in report["lines"]}
    assert ("payment", "family_account") in lines and ("refund", "personal_account") in lines
    as_csv = client.get(f"/billing/cashier/reconciliation?date={day}&format=csv")
    rows = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True))))
    providers = [row[2] for row in rows[1:]]
    assert providers.count("personal_account") == 2 and providers.count("family_account") == 2
    page = client.get(f"/billing/cashier/reconciliation?date={day}").get_data(as_text=True)
    assert "本人医保个人账户" in page and "家人医保个人账户（家庭共济）" in page
