"""A walk-in ticket in a department's queue costs the registration fee, paid from the phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.billing.models import (
    ItemCategory,
    LedgerEntry,
    Order,
    OrderItem,
    OrderPurpose,
    OrderStatus,
    Payment,
    Refund,
)
from hospital.billing.services import settlement
from hospital.db import db, utcnow
from hospital.errors import Conflict
from hospital.patients.models import Relationship
from kiosk.models import WalkIn, WalkInStatus
from kiosk.services import walk_ins as kiosk_walk_ins
from queueing.models import QueueStatus, Ticket
from tests.integration.kiosk.conftest import KioskWorld
from tests.support import factories
from tests.support.billing_factories import (
    create_registration_fee,
    sandbox,
    sandbox_notification,
)
from tests.support.kiosk_factories import confirm_phone, verify_phone
from tests.support.queueing_factories import open_queue


@pytest.fixture
def fee_world(world: KioskWorld) -> KioskWorld:
    """The world with its department's queue open today and a general fee of 12.00 yuan."""
    open_queue(world.clinic.point, now=utcnow())
    create_registration_fee(world.hospital, fee_class="general", amount_fen=1200)
    db.session.commit()
    return world


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _pay(client: Any, world: KioskWorld, confirmation: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/kiosk/walk-in/pay",
        json={"department_id": world.clinic.department.id, "confirmation": confirmation, **extra},
        headers=world.headers,
    )


def _status(client: Any, world: KioskWorld, walk_in_id: int, confirmation: str) -> Any:
    return client.post(
        f"/api/v1/kiosk/walk-in/payments/{walk_in_id}",
        json={"confirmation": confirmation},
        headers=world.headers,
    )


def _notify_paid(walk_in_id: int, *, now: Any) -> None:
    """The patient pays on the phone; the sandbox provider signs and sends its notification."""
    order = db.session.scalars(
        sa.select(Order).where(Order.reference == f"walk-in:{walk_in_id}")
    ).one()
    payment = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).one()
    body, headers = sandbox_notification(payment, now=now)
    assert settlement.handle_notification("sandbox", headers, body, now=now).accepted
    db.session.commit()


def test_the_department_list_shows_the_walk_in_fee(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    listed = kiosk_client.get("/api/v1/kiosk/walk-in/departments", headers=fee_world.headers)
    assert listed.status_code == 200
    assert listed.get_json()[0]["queue"] is True
    assert listed.get_json()[0]["fee"] == "12.00"


@pytest.mark.parametrize("proof", ["anonymous", "id_number"])
def test_a_free_ticket_is_refused_while_a_fee_is_due(
    kiosk_client: Any, fee_world: KioskWorld, proof: str
) -> None:
    body: dict[str, Any] = {"department_id": fee_world.clinic.department.id}
    if proof == "id_number":
        body["id_number"] = fee_world.patient.id_number
    response = kiosk_client.post("/api/v1/kiosk/walk-in", json=body, headers=fee_world.headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "walk_in_fee_due"
    assert "12.00" in response.get_json()["message"]
    assert "挂号窗口" in response.get_json()["message"]  # the desk, in the hospital's language
    assert _count(Ticket) == 0 and _count(Order) == 0


def test_a_walk_in_pays_the_fee_from_the_phone_then_gets_its_ticket(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    started = _pay(kiosk_client, fee_world, confirmation)
    assert started.status_code == 201, started.get_json()
    payment = started.get_json()
    assert payment["fee"] == "12.00"
    assert "/billing/sandbox/checkout/" in payment["pay_url"]
    assert "<svg" in payment["pay_qr"]
    walk_in_id = payment["walk_in_id"]

    # The order is a registration order for the walk-in, never for an appointment.
    order = db.session.scalars(sa.select(Order)).one()
    assert order.reference == f"walk-in:{walk_in_id}"
    assert order.purpose is OrderPurpose.REGISTRATION
    assert order.status is OrderStatus.PENDING
    assert (order.patient_id, order.total_fen, order.self_pay_fen) == (
        fee_world.patient.id,
        1200,
        1200,
    )
    item = db.session.scalars(sa.select(OrderItem).where(OrderItem.order_id == order.id)).one()
    assert (item.category, item.amount_fen) == (ItemCategory.REGISTRATION, 1200)
    assert _count(Ticket) == 0

    waiting = _status(kiosk_client, fee_world, walk_in_id, confirmation)
    assert waiting.status_code == 200
    assert waiting.get_json() == {"paid": False, "ticket": None}

    _notify_paid(walk_in_id, now=utcnow())
    paid = _status(kiosk_client, fee_world, walk_in_id, confirmation)
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["paid"] is True
    ticket_out = paid.get_json()["ticket"]
    assert ticket_out["code"] and "张*明" in ticket_out["slip_html"]

    ticket = db.session.scalars(sa.select(Ticket)).one()
    assert ticket.token == ticket_out["token"]
    assert ticket.patient_id == fee_world.patient.id
    assert ticket.queue.service_point_id == fee_world.clinic.point.id
    db.session.expire_all()
    assert db.session.get(Order, order.id).status is OrderStatus.PAID
    assert db.session.get(WalkIn, walk_in_id).status is WalkInStatus.TICKETED

    # Asking again (the page polls) gives the same ticket, never a second one.
    again = _status(kiosk_client, fee_world, walk_in_id, confirmation)
    assert again.get_json()["ticket"]["token"] == ticket_out["token"]
    assert _count(Ticket) == 1


def test_a_repeated_payment_notification_issues_one_ticket(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    order = db.session.scalars(sa.select(Order)).one()
    payment = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).one()
    body, headers = sandbox_notification(payment, now=utcnow())
    for _ in range(2):
        assert settlement.handle_notification("sandbox", headers, body, now=utcnow()).accepted
    db.session.commit()
    assert _count(Ticket) == 1
    assert _status(kiosk_client, fee_world, walk_in_id, confirmation).get_json()["paid"] is True


def test_a_walk_in_is_free_when_the_hospital_charges_no_fee(
    kiosk_client: Any, world: KioskWorld
) -> None:
    open_queue(world.clinic.point, now=utcnow())
    db.session.commit()
    listed = kiosk_client.get("/api/v1/kiosk/walk-in/departments", headers=world.headers)
    assert listed.get_json()[0]["fee"] == ""
    confirmation = confirm_phone(kiosk_client, world.headers, world.patient.phone)
    started = _pay(kiosk_client, world, confirmation)
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["pay_url"] == "" and started.get_json()["fee"] == "0.00"
    status = _status(kiosk_client, world, started.get_json()["walk_in_id"], confirmation)
    assert status.get_json()["paid"] is True
    assert _count(Order) == 0 and _count(Ticket) == 1


def test_a_walk_in_registers_a_family_member_the_phone_books_for(
    kiosk_client: Any, fee_world: KioskWorld, create_patient: Any
) -> None:
    from hospital.accounts.models import Account

    account = db.session.scalars(
        sa.select(Account).where(Account.phone == fee_world.patient.phone)
    ).one()
    mother = create_patient(
        fee_world.hospital,
        account=account,
        relationship=Relationship.PARENT,
        name="李秀英",
        phone=None,
    )
    stranger = create_patient(fee_world.hospital, name="王五", phone="13900000000")
    db.session.commit()

    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    refused = _pay(kiosk_client, fee_world, confirmation, patient_id=stranger.id)
    assert refused.status_code == 404
    assert refused.get_json()["code"] == "patient_not_found"
    assert _count(WalkIn) == 0 and _count(Order) == 0

    walk_in_id = _pay(kiosk_client, fee_world, confirmation, patient_id=mother.id).get_json()[
        "walk_in_id"
    ]
    _notify_paid(walk_in_id, now=utcnow())
    ticket = _status(kiosk_client, fee_world, walk_in_id, confirmation).get_json()["ticket"]
    assert "李*英" in ticket["slip_html"]
    assert db.session.scalars(sa.select(Ticket)).one().patient_id == mother.id


def test_the_code_check_lists_whom_the_phone_may_register_with_masked_names(
    kiosk_client: Any, fee_world: KioskWorld, create_patient: Any
) -> None:
    from hospital.accounts.models import Account

    account = db.session.scalars(
        sa.select(Account).where(Account.phone == fee_world.patient.phone)
    ).one()
    create_patient(
        fee_world.hospital,
        account=account,
        relationship=Relationship.PARENT,
        name="李秀英",
        phone=None,
    )
    db.session.commit()
    verified = verify_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    assert [(p["masked_name"], p["is_self"]) for p in verified["people"]] == [
        ("张*明", True),
        ("李*英", False),
    ]


def test_an_unpaid_walk_in_lapses_and_a_late_payment_is_refunded(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    walk_in = db.session.get(WalkIn, walk_in_id)
    later = walk_in.expires_at + timedelta(seconds=1)

    # Read time decides, with the expiry job switched off.
    phone = fee_world.patient.phone
    with pytest.raises(Conflict) as refused:
        kiosk_walk_ins.walk_in_ticket(fee_world.device, walk_in_id, phone=phone, now=later)
    assert refused.value.code == "payment_too_late"

    assert kiosk_walk_ins.expire_walk_ins(now=later) == 1
    assert kiosk_walk_ins.expire_walk_ins(now=later) == 0
    db.session.commit()
    order = db.session.scalars(sa.select(Order)).one()
    assert order.status is OrderStatus.EXPIRED
    assert db.session.get(WalkIn, walk_in_id).status is WalkInStatus.EXPIRED

    # The patient pays anyway, after the lapse: no ticket, the money goes back.
    _notify_paid(walk_in_id, now=later)
    assert _count(Ticket) == 0
    refund = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).one()
    assert refund.amount_fen == 1200


def test_a_payment_after_the_queue_closed_is_refunded_in_full(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    from queueing.models import ServiceQueue

    queue = db.session.scalars(sa.select(ServiceQueue)).one()
    queue.status = QueueStatus.CLOSED
    db.session.commit()

    _notify_paid(walk_in_id, now=utcnow())
    assert _count(Ticket) == 0
    order = db.session.scalars(sa.select(Order)).one()
    db.session.refresh(order)
    refunds = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    assert sum(r.amount_fen for r in refunds) == 1200
    status = _status(kiosk_client, fee_world, walk_in_id, confirmation)
    assert status.status_code == 409
    assert status.get_json()["code"] == "walk_in_refunded"


def test_leaving_the_payment_screen_voids_the_fee(kiosk_client: Any, fee_world: KioskWorld) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    cancelled = kiosk_client.post(
        f"/api/v1/kiosk/walk-in/payments/{walk_in_id}/cancel",
        json={"confirmation": confirmation},
        headers=fee_world.headers,
    )
    assert cancelled.status_code == 204
    assert db.session.scalars(sa.select(Order)).one().status is OrderStatus.CANCELLED
    kinds = db.session.scalars(sa.select(LedgerEntry.kind).order_by(LedgerEntry.id)).all()
    assert kinds[-1].value == "order_cancelled"
    status = _status(kiosk_client, fee_world, walk_in_id, confirmation)
    assert status.status_code == 409 and status.get_json()["code"] == "walk_in_cancelled"


def test_another_phone_cannot_follow_someone_elses_walk_in(
    kiosk_client: Any, fee_world: KioskWorld, create_account: Any
) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    other = create_account(fee_world.hospital)
    factories.create_patient(fee_world.hospital, account=other, name="赵六", phone=other.phone)
    db.session.commit()
    theirs = confirm_phone(kiosk_client, fee_world.headers, other.phone)
    response = _status(kiosk_client, fee_world, walk_in_id, theirs)
    assert response.status_code == 404
    assert response.get_json()["code"] == "walk_in_not_found"


def test_a_payment_landing_after_the_lapse_is_refunded_even_before_the_job_ran(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    later = db.session.get(WalkIn, walk_in_id).expires_at + timedelta(seconds=1)
    _notify_paid(walk_in_id, now=later)
    assert _count(Ticket) == 0
    order = db.session.scalars(sa.select(Order)).one()
    refunds = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    assert sum(r.amount_fen for r in refunds) == 1200
    assert db.session.get(WalkIn, walk_in_id).status is WalkInStatus.EXPIRED


def test_payments_racing_the_expiry_job_end_ticketed_or_refunded_never_both(
    app: Any, committed: None, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    import threading

    from hospital.unit_of_work import unit_of_work
    from tests.support.kiosk_factories import create_clinic, create_kiosk

    with app.app_context(), unit_of_work():
        now = utcnow()
        hospital = factories.create_hospital(timezone=factories.daytime_zone(now))
        device, _token = create_kiosk(hospital, now=now)
        clinic = create_clinic(hospital, now=now)
        open_queue(clinic.point, now=now)
        create_registration_fee(hospital, fee_class="general", amount_fen=1200)
        walk_ins = []
        for _ in range(8):
            account = factories.create_account(hospital)
            factories.create_patient(hospital, account=account, phone=account.phone)
            started = kiosk_walk_ins.start_paid_walk_in(
                device, clinic.department.id, phone=account.phone, now=now
            )
            walk_ins.append(started.walk_in_id)
        db.session.flush()
        expires_at = db.session.get(WalkIn, walk_ins[0]).expires_at
        deliveries = []
        for walk_in_id in walk_ins:
            order = db.session.scalars(
                sa.select(Order).where(Order.reference == f"walk-in:{walk_in_id}")
            ).one()
            payment = db.session.scalars(
                sa.select(Payment).where(Payment.order_id == order.id)
            ).one()
            deliveries.append(sandbox_notification(payment, now=expires_at - timedelta(seconds=1)))

    errors: list[BaseException] = []
    barrier = threading.Barrier(len(deliveries) + 1)

    def run(work: Any) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                with unit_of_work():
                    work()
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def deliver(body: bytes, headers: dict[str, str]) -> Any:
        paid_at = expires_at - timedelta(seconds=1)
        return lambda: settlement.handle_notification("sandbox", headers, body, now=paid_at)

    threads = [threading.Thread(target=run, args=(deliver(*d),)) for d in deliveries]
    threads.append(
        threading.Thread(
            target=run,
            args=(lambda: kiosk_walk_ins.expire_walk_ins(now=expires_at + timedelta(seconds=1)),),
        )
    )
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with app.app_context():
        for walk_in_id in walk_ins:
            walk_in = db.session.get(WalkIn, walk_in_id)
            order = db.session.get(Order, walk_in.order_id)
            refunded = sum(
                r.amount_fen
                for r in db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id))
            )
            if walk_in.ticket_id is not None:
                assert walk_in.status is WalkInStatus.TICKETED
                assert order.status is OrderStatus.PAID and refunded == 0
            else:
                assert walk_in.status is WalkInStatus.EXPIRED
                assert order.status is OrderStatus.EXPIRED and refunded == 1200
        tickets = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket))
        ticketed = sum(1 for w in walk_ins if db.session.get(WalkIn, w).ticket_id is not None)
        assert tickets == ticketed
        db.session.remove()


def test_a_refunded_walk_in_fee_cancels_its_waiting_ticket(
    kiosk_client: Any, fee_world: KioskWorld
) -> None:
    from hospital.accounts.models import Role
    from hospital.billing.models import RefundKind
    from hospital.billing.services import refunds
    from queueing.models import TicketStatus

    confirmation = confirm_phone(kiosk_client, fee_world.headers, fee_world.patient.phone)
    walk_in_id = _pay(kiosk_client, fee_world, confirmation).get_json()["walk_in_id"]
    payment = db.session.scalars(sa.select(Payment)).one()
    sandbox().decide(payment.out_trade_no, "success", now=utcnow())
    _notify_paid(walk_in_id, now=utcnow())
    order = db.session.scalars(sa.select(Order)).one()
    cashier = factories.create_account(fee_world.hospital, roles=(Role.CASHIER,))
    refunds.refund_order(
        order.id,
        actor=cashier,
        amount_fen=None,
        kind=RefundKind.CASHIER,
        reason="left before being seen",
        now=utcnow(),
    )
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalars(sa.select(Ticket)).one().status is TicketStatus.CANCELLED
    assert db.session.get(WalkIn, walk_in_id).status is WalkInStatus.REFUNDED
