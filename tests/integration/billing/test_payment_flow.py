"""The whole sandbox flow: pay page, hosted checkout, signed asynchronous notification, receipt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.billing import jobs
from hospital.billing.models import (
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from hospital.db import db, utcnow
from hospital.events import order_paid
from hospital.patients.models import Relationship
from tests.support.auth import sign_in
from tests.support.billing_factories import client_transport, create_visit_order


def _setup(hospital: Any, create_account: Any, create_patient: Any) -> tuple[Any, Any, Order]:
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(hospital, patient, now=utcnow())
    return account, patient, order


def test_pay_page_to_paid_only_after_the_signed_notification(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account, _patient, order = _setup(hospital, create_account, create_patient)
    sign_in(client, account)
    page = client.get(f"/billing/orders/{order.id}/pay")
    assert page.status_code == 200
    assert "¥50.00" in page.get_data(as_text=True)

    started = client.post(f"/billing/orders/{order.id}/pay", data={"provider": "sandbox"})
    assert started.status_code == 302
    checkout = urlsplit(started.headers["Location"]).path
    assert checkout.startswith("/billing/sandbox/checkout/")
    assert client.get(checkout).status_code == 200

    back = client.post(checkout, data={"outcome": "success"})
    assert back.status_code == 302
    result_path = urlsplit(back.headers["Location"]).path
    assert result_path == f"/billing/orders/{order.id}/result"
    # The payer is back, but no notification has arrived: nothing is paid yet.
    result = client.get(result_path)
    assert 'data-result="waiting"' in result.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING

    seen: list[dict[str, Any]] = []

    def receiver(_sender: Any, **kw: Any) -> None:
        seen.append(kw)

    with order_paid.connected_to(receiver):
        delivered = jobs.deliver_sandbox_notifications(
            now=utcnow(), transport=client_transport(client)
        )
    assert delivered >= 1
    db.session.expire_all()
    paid = db.session.get(Order, order.id)
    assert paid.status == OrderStatus.PAID
    assert paid.paid_self_fen == 5000 and paid.receipt_no
    assert [(s["order_id"], s["purpose"]) for s in seen] == [(order.id, "visit")]
    entries = db.session.scalars(
        sa.select(LedgerEntry).where(
            LedgerEntry.order_id == order.id, LedgerEntry.kind == LedgerKind.PAYMENT_SUCCEEDED
        )
    ).all()
    assert len(entries) == 1
    assert 'data-result="paid"' in client.get(result_path).get_data(as_text=True)


def test_a_failed_checkout_leaves_the_order_payable(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account, _patient, order = _setup(hospital, create_account, create_patient)
    sign_in(client, account)
    started = client.post(f"/billing/orders/{order.id}/pay", data={"provider": "sandbox"})
    checkout = urlsplit(started.headers["Location"]).path
    client.post(checkout, data={"outcome": "failure"})
    jobs.deliver_sandbox_notifications(now=utcnow(), transport=client_transport(client))
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING
    payment = db.session.scalar(sa.select(Payment).where(Payment.order_id == order.id))
    assert payment.status == PaymentStatus.FAILED
    again = client.post(f"/billing/orders/{order.id}/pay", data={"provider": "sandbox"})
    assert again.status_code == 302


def test_the_return_url_with_forged_parameters_pays_nothing(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account, _patient, order = _setup(hospital, create_account, create_patient)
    sign_in(client, account)
    client.post(f"/billing/orders/{order.id}/pay", data={"provider": "sandbox"})
    forged = client.get(
        f"/billing/orders/{order.id}/result?status=paid&trade_status=TRADE_SUCCESS"
        "&total_amount=0.01&out_trade_no=x&sign=forged"
    )
    assert forged.status_code == 200
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(
                LedgerEntry.order_id == order.id, LedgerEntry.kind == LedgerKind.PAYMENT_SUCCEEDED
            )
        )
        == 0
    )


def test_a_family_member_pays_and_the_receipt_names_the_payer(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    elder_owner = create_account(hospital)
    patient = create_patient(hospital, account=elder_owner)
    child = create_account(hospital, display_name="张小明")
    from hospital.patients.models import FamilyLink

    db.session.add(
        FamilyLink(
            hospital_id=hospital.id,
            account_id=child.id,
            patient_id=patient.id,
            relationship=Relationship.PARENT,
        )
    )
    db.session.flush()
    order = create_visit_order(hospital, patient, now=utcnow())
    sign_in(client, child)
    orders = client.get("/api/v1/billing/orders").get_json()
    assert [o["id"] for o in orders] == [order.id]
    started = client.post(f"/billing/orders/{order.id}/pay", data={"provider": "sandbox"})
    client.post(urlsplit(started.headers["Location"]).path, data={"outcome": "success"})
    jobs.deliver_sandbox_notifications(now=utcnow(), transport=client_transport(client))
    db.session.expire_all()
    paid = db.session.get(Order, order.id)
    assert paid.status == OrderStatus.PAID
    assert paid.paid_by_account_id == child.id


def test_someone_else_cannot_pay_or_see_the_order(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _account, _patient, order = _setup(hospital, create_account, create_patient)
    stranger = create_account(hospital)
    create_patient(hospital, account=stranger)
    sign_in(client, stranger)
    assert client.get(f"/billing/orders/{order.id}/pay").status_code == 404
    assert client.get(f"/api/v1/billing/orders/{order.id}").status_code == 404
    response = client.post(
        f"/api/v1/billing/orders/{order.id}/payments", json={"provider": "sandbox"}
    )
    assert response.status_code == 404


def test_cashier_may_pay_at_the_counter_for_a_patient(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _account, _patient, order = _setup(hospital, create_account, create_patient)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    response = client.post(
        f"/api/v1/billing/orders/{order.id}/payments", json={"provider": "sandbox"}
    )
    assert response.status_code == 201
    assert response.get_json()["amount_fen"] == 5000


def test_my_orders_lists_me_and_my_family_and_nobody_else(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = create_account(hospital)
    me = create_patient(hospital, account=account, name="王小二")
    mother = create_patient(
        hospital, account=account, relationship=Relationship.PARENT, name="李秀英"
    )
    stranger = create_patient(hospital, account=create_account(hospital), name="赵六")
    mine = create_visit_order(hospital, me, now=utcnow())
    hers = create_visit_order(hospital, mother, now=utcnow())
    other = create_visit_order(hospital, stranger, now=utcnow())
    sign_in(client, account)
    html = client.get("/billing/orders").get_data(as_text=True)
    assert f'data-order="{mine.id}"' in html and f'data-order="{hers.id}"' in html
    assert f'data-order="{other.id}"' not in html and "赵六" not in html


def test_the_pay_page_shows_the_insurance_share_and_the_hold_countdown(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    from hospital.billing.models import ItemCategory
    from hospital.billing.services import payments

    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(
        hospital, patient, now=utcnow(), prices=((11000, ItemCategory.LAB_TEST),)
    )
    order.expires_at = utcnow() + timedelta(minutes=9, seconds=30)
    db.session.flush()
    sign_in(client, account)
    page = client.post(f"/billing/orders/{order.id}/pay", data={"action": "insurance"})
    assert page.status_code == 302
    html = client.get(f"/billing/orders/{order.id}/pay").get_data(as_text=True)
    assert "data-hold-countdown" in html
    assert "¥70.00" in html and "¥40.00" in html  # insurance share, self-pay
    started = payments.start_payment(order.id, actor=account, provider_name="sandbox", now=utcnow())
    assert started.payment is not None and started.payment.amount_fen == 4000


def test_a_payer_not_signed_in_on_the_phone_is_sent_back_to_the_kiosk_and_learns_nothing(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _account, patient, order = _setup(hospital, create_account, create_patient)
    db.session.commit()
    page = client.get(f"/billing/orders/{order.id}/result?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-result="public"' in text
    assert "go back to it" in text
    # Nothing about the order or its patient: the id in the address is all the visitor has.
    assert patient.name not in text and "50.00" not in text and 'data-result="waiting"' not in text
