"""Billing test helpers: fee items, visit orders, sandbox payments and signed notifications."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, current_app

from hospital.accounts.models import Account, Role
from hospital.billing.models import FeeItem, ItemCategory, Order, Payment, RegistrationFee
from hospital.billing.providers.registry import payment_provider, sandbox_secrets
from hospital.billing.providers.sandbox import SIGNATURE_HEADER, SandboxProvider
from hospital.billing.providers.stripe_webhooks import signature_header
from hospital.billing.references import OrderRef
from hospital.billing.services import orders, payments, settlement
from hospital.db import db, utcnow
from hospital.organisation.models import Clinician, Hospital
from hospital.patients.models import Patient
from hospital.unit_of_work import unit_of_work
from scheduling.models import Appointment
from scheduling.services import booking
from tests.support.factories import create_account, create_patient
from tests.support.scheduling_factories import NOW, create_clinic_session, slots_of

_seq = itertools.count(1)


def create_fee_item(
    hospital: Hospital,
    *,
    price_fen: int = 5000,
    category: ItemCategory = ItemCategory.LAB_TEST,
    **kw: Any,
) -> FeeItem:
    n = next(_seq)
    values: dict[str, Any] = {
        "hospital_id": hospital.id,
        "code": f"ITEM{n}",
        "name_zh": "血常规",
        "name_en": "Complete blood count",
        "category": category,
        "price_fen": price_fen,
    }
    values.update(kw)
    item = FeeItem(**values)
    db.session.add(item)
    db.session.flush()
    return item


def create_registration_fee(
    hospital: Hospital, *, fee_class: str = "general", amount_fen: int = 1200
) -> RegistrationFee:
    fee = RegistrationFee(
        hospital_id=hospital.id,
        fee_class=fee_class,
        name_zh="普通号挂号费",
        name_en="General registration fee",
        amount_fen=amount_fen,
    )
    db.session.add(fee)
    db.session.flush()
    return fee


def create_visit_order(
    hospital: Hospital,
    patient: Patient,
    *,
    prices: tuple[tuple[int, ItemCategory], ...] = ((5000, ItemCategory.LAB_TEST),),
    staff: Account | None = None,
    now: datetime,
    visit_key: str = "visit:1",
) -> Order:
    staff = staff or create_account(hospital, roles=(Role.CLINICIAN,))
    requests = [
        orders.ItemRequest(create_fee_item(hospital, price_fen=p, category=c).id, 1)
        for p, c in prices
    ]
    return orders.create_visit_order(
        actor=staff, patient_id=patient.id, items=requests, visit_key=visit_key, now=now
    )


def calm_sandbox(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox provider without random delays or duplicates (restored after the test)."""
    monkeypatch.setitem(app.config, "BILLING_SANDBOX_MAX_DELAY_S", 0)
    monkeypatch.setitem(app.config, "BILLING_SANDBOX_DUPLICATE_RATE", 0.0)


def sandbox() -> SandboxProvider:
    provider = payment_provider("sandbox", current_app.config)
    assert isinstance(provider, SandboxProvider)
    return provider


def start_sandbox_payment(order: Order, payer: Account, *, now: datetime) -> Payment:
    started = payments.start_payment(order.id, actor=payer, provider_name="sandbox", now=now)
    assert started.payment is not None
    return started.payment


def succeeded_sandbox_payment(order: Order, payer: Account, *, now: datetime) -> Payment:
    """A sandbox payment the payer completed at the checkout; its notification is not sent yet."""
    payment = start_sandbox_payment(order, payer, now=now)
    sandbox().decide(payment.out_trade_no, "success", now=now)
    return payment


def deliver_sandbox_notification(
    payment: Payment, *, now: datetime
) -> settlement.NotificationResult:
    """Hand billing the sandbox's signed notification for the payment, as the provider would."""
    body, headers = sandbox_notification(payment, now=now)
    return settlement.handle_notification("sandbox", headers, body, now=now)


def pay_in_sandbox(order: Order, payer: Account, *, now: datetime) -> Payment:
    """Pay the order at the sandbox and deliver the success notification."""
    payment = succeeded_sandbox_payment(order, payer, now=now)
    assert deliver_sandbox_notification(payment, now=now).accepted
    return payment


def new_patient_order(
    hospital: Hospital, *, now: datetime, **patient_kw: Any
) -> tuple[Order, Account]:
    """A ¥50 visit order for a new patient, whose own account pays it."""
    account = create_account(hospital)
    patient = create_patient(hospital, account=account, **patient_kw)
    return create_visit_order(hospital, patient, now=now), account


def paid_visit_order(
    hospital: Hospital, *, now: datetime, **patient_kw: Any
) -> tuple[Order, Account]:
    """A new patient's visit order, paid at the sandbox by their own account (re-read)."""
    order, account = new_patient_order(hospital, now=now, **patient_kw)
    pay_in_sandbox(order, account, now=now)
    db.session.expire_all()
    return db.session.get(Order, order.id), account


def insured_medicine_order(hospital: Hospital, *, now: datetime) -> tuple[Order, Account]:
    """A new patient's ¥30 medicine order with their insurance applied."""
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(hospital, patient, now=now, prices=((3000, ItemCategory.MEDICINE),))
    orders.apply_insurance(order.id, actor=account, now=now)
    return order, account


def registration_order(appointment_id: int) -> Order | None:
    """The registration-fee order billing opened when the appointment was held."""
    return db.session.scalar(
        sa.select(Order).where(Order.reference == OrderRef.appointment(appointment_id).format())
    )


def hold_a_paid_place(
    hospital: Hospital, clinician: Clinician, **patient_kw: Any
) -> tuple[Appointment, Order, Account]:
    """A new patient holds the only place of a ¥15 session at NOW; billing opens its order."""
    session = create_clinic_session(clinician, capacity=1, fee_fen=1500)
    account = create_account(hospital)
    patient = create_patient(hospital, account=account, **patient_kw)
    slot = slots_of(session)[0]
    held = booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW)
    order = registration_order(held.id)
    assert order is not None
    return held, order, account


def sandbox_notification(
    payment: Payment,
    *,
    now: datetime,
    status: str = "succeeded",
    amount_fen: int | None = None,
    secret: str | None = None,
    txn_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A notification exactly as the sandbox signs it (override parts to forge one)."""
    txn = sandbox().transaction(payment.out_trade_no)
    body = json.dumps(
        {
            "id": f"evt_test{next(_seq)}",
            "type": "payment.succeeded" if status == "succeeded" else "payment.failed",
            "out_trade_no": payment.out_trade_no,
            "txn_id": txn_id or (txn.txn_id if txn else "SBXtest"),
            "amount_fen": payment.amount_fen if amount_fen is None else amount_fen,
            "currency": "CNY",
        },
        separators=(",", ":"),
    ).encode()
    key = secret or sandbox_secrets(current_app.config)[0]
    header = signature_header(body, key, int(now.timestamp()))
    return body, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}


def deliver_all_at_once(
    app: Flask, deliveries: list[tuple[bytes, dict[str, str]]]
) -> list[BaseException]:
    """Hand every notification to settlement at the same moment, one thread and unit of work
    each (as concurrent webhook requests would); the errors raised, none when all went well."""
    barrier = threading.Barrier(len(deliveries))
    errors: list[BaseException] = []

    def deliver(body: bytes, headers: dict[str, str]) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                with unit_of_work():
                    settlement.handle_notification("sandbox", headers, body, now=utcnow())
            except BaseException as exc:  # returned to the test
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver, args=d) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def client_transport(client: Any) -> Any:
    """Deliver the sandbox's notifications to our notify endpoint through the test client."""

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        response = client.post(urlsplit(url).path, data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    return post
