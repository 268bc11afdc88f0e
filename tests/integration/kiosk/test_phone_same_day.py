"""Same-day numbers from the phone: pay online, get the number; capped per queue, in hours only."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Account
from hospital.billing.models import Order, Payment
from hospital.db import db, utcnow
from hospital.errors import Conflict, DomainError
from hospital.unit_of_work import unit_of_work
from kiosk.models import WalkIn, WalkInStatus
from kiosk.services import phone_numbers
from queueing.models import Ticket
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import (
    create_registration_fee,
    deliver_sandbox_notification,
    sandbox,
)
from tests.support.kiosk_factories import create_clinic
from tests.support.queueing_factories import open_queue


def _world(*, fee_fen: int = 1200) -> tuple[Any, Any, Any, Any]:
    now = utcnow()
    hospital = factories.create_hospital(timezone=factories.daytime_zone(now))
    clinic = create_clinic(hospital, now=now)
    open_queue(clinic.point, now=now)
    if fee_fen:
        create_registration_fee(hospital, fee_class="general", amount_fen=fee_fen)
    account = factories.create_account(hospital)
    patient = factories.create_patient(hospital, account=account, name="王小红")
    return hospital, clinic, account, patient


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_the_patient_pays_online_and_the_number_comes_to_the_phone(
    client: Any, db_session: Any, app: Flask
) -> None:
    _hospital, clinic, account, patient = _world()
    sign_in(client, account)
    listed = client.get("/api/v1/kiosk/same-day").get_json()
    assert [c["department_id"] for c in listed] == [clinic.department.id]
    assert listed[0]["fee"] == "12.00" and listed[0]["left"] == app.config.get(
        "KIOSK_PHONE_SAME_DAY_CAP", 20
    )
    response = client.post(
        "/api/v1/kiosk/same-day",
        json={"department_id": clinic.department.id, "patient_id": patient.id},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert "/billing/sandbox/checkout/" in body["pay_url"] and body["fee"] == "12.00"
    assert _count(Ticket) == 0
    walk_in = db.session.get(WalkIn, body["walk_in_id"])
    assert walk_in.device_id is None
    payment = db.session.scalars(sa.select(Payment)).one()
    sandbox().decide(payment.out_trade_no, "success", now=utcnow())
    assert deliver_sandbox_notification(payment, now=utcnow()).accepted
    db.session.expire_all()
    ticket = db.session.scalars(sa.select(Ticket)).one()
    assert ticket.patient_id == patient.id and ticket.queue.service_point_id == clinic.point.id
    assert db.session.get(WalkIn, walk_in.id).status is WalkInStatus.TICKETED
    order = db.session.scalars(sa.select(Order)).one()
    result = client.get(f"/billing/orders/{order.id}/result").get_data(as_text=True)
    assert "/tickets" in result
    assert ticket.code in client.get("/tickets").get_data(as_text=True)
    # The page does the same for a person.
    page = client.get("/same-day")
    assert page.status_code == 200 and f'data-department="{clinic.department.id}"' in (
        page.get_data(as_text=True)
    )


def test_the_cap_per_queue_and_the_departments_hours_hold(
    db_session: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "KIOSK_PHONE_SAME_DAY_CAP", 2)
    _hospital, clinic, account, patient = _world(fee_fen=0)
    now = utcnow()
    for _ in range(2):
        phone_numbers.take_same_day_number(
            actor=account, department_id=clinic.department.id, patient_id=patient.id, now=now
        )
    with pytest.raises(Conflict) as full:
        phone_numbers.take_same_day_number(
            actor=account, department_id=clinic.department.id, patient_id=patient.id, now=now
        )
    assert full.value.code == "same_day_full"
    assert _count(Ticket) == 2
    late = clinic.session.ends_at + timedelta(minutes=1)
    with pytest.raises(Conflict) as closed:
        phone_numbers.take_same_day_number(
            actor=account, department_id=clinic.department.id, patient_id=patient.id, now=late
        )
    assert closed.value.code == "no_walk_in_queue"
    stranger = factories.create_account(clinic.department.hospital)
    with pytest.raises(DomainError):
        phone_numbers.take_same_day_number(
            actor=stranger, department_id=clinic.department.id, patient_id=patient.id, now=now
        )


def test_bad_input_gets_a_4xx(client: Any, db_session: Any) -> None:
    _hospital, clinic, account, patient = _world()
    sign_in(client, account)
    for body in (
        {"department_id": clinic.department.id},
        {"department_id": "x", "patient_id": patient.id},
        {"department_id": 99999999, "patient_id": patient.id},
        {"department_id": clinic.department.id, "patient_id": patient.id, "fee": 0},
    ):
        response = client.post("/api/v1/kiosk/same-day", json=body)
        assert 400 <= response.status_code < 500, body
    assert _count(WalkIn) == 0


def test_the_cap_holds_under_fifty_concurrent_requests(
    app: Flask, committed: None, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    monkeypatch.setitem(app.config, "KIOSK_PHONE_SAME_DAY_CAP", 7)
    with app.app_context(), unit_of_work():
        _hospital, clinic, account, patient = _world(fee_fen=0)
        ids = (account.id, clinic.department.id, patient.id)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def take() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                with unit_of_work():
                    phone_numbers.take_same_day_number(
                        actor=db.session.get_one(Account, ids[0]),
                        department_id=ids[1],
                        patient_id=ids[2],
                        now=utcnow(),
                    )
                outcomes.append("ok")
            except Conflict as exc:
                outcomes.append(str(exc.code))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=take) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert outcomes.count("ok") == 7
    assert outcomes.count("same_day_full") == 43
    with app.app_context():
        assert _count(Ticket) == 7 and _count(WalkIn) == 7
        db.session.remove()


def test_the_same_day_page_sends_the_patient_to_pay_then_refuses_when_full(
    client: Any, db_session: Any, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "KIOSK_PHONE_SAME_DAY_CAP", 1)
    _hospital, clinic, account, patient = _world()
    sign_in(client, account)
    form = {"department_id": clinic.department.id, "patient_id": patient.id}
    taken = client.post("/same-day", data=form)
    assert taken.status_code == 303
    assert "/billing/sandbox/checkout/" in taken.headers["Location"]
    full = client.post("/same-day", data=form)
    assert full.status_code == 409
    assert "取完" in full.get_data(as_text=True)
    assert _count(WalkIn) == 1
