"""The payment result page shows the result by itself once the provider confirms the payment."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.billing.models import Order
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import Patient
from tests.browser.a11y import (  # noqa: F401 (fixtures)
    a11y_world_fixture,
    preference_cookies,
    session_cookie,
    session_for,
)

pytestmark = pytest.mark.browser


def test_a_waiting_payment_result_turns_into_the_receipt_without_a_reload(
    page: Any, live_server: Any, a11y_world: dict[str, Any]
) -> None:
    from hospital.billing.services import settlement
    from tests.support.billing_factories import (
        create_visit_order,
        sandbox,
        sandbox_notification,
        start_sandbox_payment,
    )

    app = live_server.app
    with app.app_context():
        account = db.session.get(Account, a11y_world["accounts"]["patient"])
        patient = db.session.scalars(
            sa.select(Patient).where(Patient.name == "李梅").limit(1)
        ).one()
        staff = db.session.scalars(
            sa.select(Account).where(Account.id != account.id).limit(1)
        ).one()
        now = utcnow()
        order = create_visit_order(
            db.session.get(Hospital, account.hospital_id),
            patient,
            staff=staff,
            now=now,
            visit_key="result:auto",
        )
        payment = start_sandbox_payment(order, account, now=now)
        order_id, trade_no = order.id, payment.out_trade_no
        db.session.commit()

    data = session_for(app, a11y_world, "patient")
    page.context.add_cookies(
        [
            *preference_cookies(live_server.url, lang="en", elder=False),
            session_cookie(app, live_server.url, data),
        ]
    )
    page.goto(f"/billing/orders/{order_id}/result")
    page.wait_for_selector("[data-result=waiting]")
    assert "updates by itself" in page.inner_text("[data-result=waiting]")

    with app.app_context():
        now = utcnow()
        sandbox().decide(trade_no, "success", now=now)
        payment = settlement_payment(trade_no)
        body, headers = sandbox_notification(payment, now=now)
        settlement.handle_notification("sandbox", headers, body, now=now)
        db.session.commit()
        assert db.session.get(Order, order_id).paid_at is not None

    page.wait_for_selector("[data-result=paid]", timeout=15_000)  # no click, no reload by us


def settlement_payment(trade_no: str) -> Any:
    from hospital.billing.models import Payment

    return db.session.scalars(sa.select(Payment).where(Payment.out_trade_no == trade_no)).one()
