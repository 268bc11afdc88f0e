"""Walk-ins into a department's queue open today: free at once, or with a fee paid from the
patient's phone (the ticket comes when billing reports the order paid).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Device
from hospital.audit.service import record
from hospital.billing.pricing import fen_to_yuan
from hospital.billing.references import OrderKind, OrderRef
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, DomainError, NotFound
from hospital.organisation.models import Department
from hospital.zones import local_date, zone_for
from kiosk.models import ActivityKind, KioskActivity, WalkIn, WalkInStatus
from kiosk.printing.slip import DeskSlip
from kiosk.services.check_in import IssuedTicket
from kiosk.services.devices import config, hospital_of
from kiosk.services.identity import people_for_phone, phone_account, walk_in_patient
from kiosk.services.same_day_booking import next_slots_today, start_phone_payment
from kiosk.services.throttle import check_rate, log_activity
from queueing.queries import Ticket, people_ahead, ticket_of_hospital, tickets_per_queue
from queueing.services import desk_slip_codes, issuing, queues, stations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WalkInChoice:
    department_id: int
    name_zh: str
    name_en: str
    service_point_id: int | None  # the department's queue open today, if any
    waiting: int
    slot_today: bool  # a bookable slot with a room is left today
    queue_fee_fen: int  # the registration fee of a walk-in ticket in the queue (0: free)


def walk_in_departments(device: Device, *, now: datetime) -> list[WalkInChoice]:
    """Departments a walk-in can go to now: a queue open today, or a free slot today."""
    return departments_taking_walk_ins(device.hospital_id, now=now)


def departments_taking_walk_ins(hospital_id: int, *, now: datetime) -> list[WalkInChoice]:
    """Departments of the hospital a walk-in can go to now: a queue open today, or a free slot."""
    day = local_date(now, zone_for(hospital_of(hospital_id)))
    departments = db.session.scalars(
        sa.select(Department)
        .where(Department.hospital_id == hospital_id, Department.is_active.is_(True))
        .order_by(Department.sort_order, Department.id)
    ).all()
    first_queue: dict[int, tuple[int, int]] = {}
    for point, queue in queues.open_queues_on(hospital_id, day):
        if point.department_id is not None:
            first_queue.setdefault(point.department_id, (point.id, queue.id))
    waiting = tickets_per_queue(q for _p, q in first_queue.values())
    from hospital.billing.services import orders

    fee_fen = orders.walk_in_fee_fen(hospital_id, fee_class=walk_in_fee_class())
    slots = next_slots_today(hospital_id, now=now)
    choices = []
    for department in departments:
        point_queue = first_queue.get(department.id)
        slot = slots.get(department.id)
        if point_queue is None and slot is None:
            continue
        choices.append(
            WalkInChoice(
                department.id,
                department.name_zh,
                department.name_en,
                point_queue[0] if point_queue else None,
                int(waiting.get(point_queue[1], 0)) if point_queue else 0,
                slot is not None,
                fee_fen,
            )
        )
    return choices


def _walk_in_queue(
    device: Device, department_id: int, *, now: datetime
) -> tuple[WalkInChoice, int]:
    """The department's walk-in choice and the service point of its queue open today."""
    choice = next(
        (c for c in walk_in_departments(device, now=now) if c.department_id == department_id), None
    )
    if choice is None or choice.service_point_id is None:
        raise NotFound(
            _l(
                "This department takes no walk-in patients right now. Ask at the registration desk."
            ),
            code=ErrorCode.NO_WALK_IN_QUEUE,
        )
    return choice, choice.service_point_id


def walk_in(
    device: Device, department_id: int, *, patient_id: int | None, now: datetime
) -> IssuedTicket:
    """A free walk-in ticket in the department's queue open today (no fee is due for it)."""
    choice, service_point_id = _walk_in_queue(device, department_id, now=now)
    if choice.queue_fee_fen > 0:
        # Paying needs someone to pay from: a phone confirmed with a texted code.
        raise Conflict(
            _l(
                "Registering here costs %(fee)s yuan, paid from your phone: identify yourself "
                "with your phone number and a texted code. Without a phone, please pay at the "
                "registration desk.",
                fee=fen_to_yuan(choice.queue_fee_fen),
            ),
            code=ErrorCode.WALK_IN_FEE_DUE,
        )
    check_rate(device, ActivityKind.TICKET, int(config("KIOSK_TICKETS_PER_MINUTE", 30)), now=now)
    ticket = issuing.issue_walk_in(
        actor=None,
        hospital_id=device.hospital_id,
        service_point_id=service_point_id,
        now=now,
        patient_id=patient_id,
    )
    log_activity(device, ActivityKind.TICKET, ticket.id, now=now)
    record(
        action="kiosk.walk_in",
        hospital_id=device.hospital_id,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=patient_id,
        detail={"device_id": device.id, "department_id": department_id},
    )
    return IssuedTicket(ticket, True, people_ahead(ticket, now=now))


def desk_slip(device: Device, department_id: int, *, now: datetime) -> DeskSlip:
    """A slip for a walk-in without a phone: the department and its fee, paid at the desk."""
    choice = next(
        (c for c in walk_in_departments(device, now=now) if c.department_id == department_id), None
    )
    if choice is None:
        raise NotFound(
            _l(
                "This department takes no walk-in patients right now. Ask at the registration desk."
            ),
            code=ErrorCode.NO_WALK_IN_QUEUE,
        )
    hospital = hospital_of(device.hospital_id)
    queue_fee = choice.service_point_id is not None and choice.queue_fee_fen > 0
    return DeskSlip(
        hospital_name_zh=hospital.name_zh,
        hospital_name_en=hospital.name_en,
        department_zh=choice.name_zh,
        department_en=choice.name_en,
        fee=fen_to_yuan(choice.queue_fee_fen) if queue_fee else "",
        issued_at=now.astimezone(zone_for(hospital)).strftime("%Y-%m-%d %H:%M"),
        code=desk_slip_codes.code_for_desk_slip(
            hospital_id=device.hospital_id, service_point_id=choice.service_point_id, now=now
        ),
    )


@dataclass(frozen=True)
class WalkInPayment:
    walk_in_id: int
    fee_fen: int
    pay_url: str  # empty when nothing is to be paid: the ticket is issued at once


def start_paid_walk_in(
    device: Device,
    department_id: int,
    *,
    phone: str,
    now: datetime,
    patient_id: int | None = None,
) -> WalkInPayment:
    """Register a walk-in in the department's queue; its ticket comes once the fee is paid."""
    _choice, service_point_id = _walk_in_queue(device, department_id, now=now)
    account = phone_account(device, phone)
    patient = walk_in_patient(device.hospital_id, phone, patient_id, account=account)
    check_rate(device, ActivityKind.TICKET, int(config("KIOSK_TICKETS_PER_MINUTE", 30)), now=now)
    return register_walk_in(
        hospital_id=device.hospital_id,
        device=device,
        department_id=department_id,
        service_point_id=service_point_id,
        patient_id=patient.id,
        account=account,
        action="kiosk.walk_in_registered",
        payment_key="kiosk-walk-in",
        now=now,
    )


def register_walk_in(
    *,
    hospital_id: int,
    device: Device | None,
    department_id: int,
    service_point_id: int,
    patient_id: int,
    account: Account,
    action: str,
    payment_key: str,
    now: datetime,
) -> WalkInPayment:
    """Register a walk-in in a queue (from a kiosk, or from the phone when device is None), order
    its fee and start its payment from the account's phone; no fee: the ticket at once."""
    from hospital.billing.services import orders

    walk_in = WalkIn(
        hospital_id=hospital_id,
        device_id=device.id if device is not None else None,
        department_id=department_id,
        service_point_id=service_point_id,
        patient_id=patient_id,
        account_id=account.id,
        status=WalkInStatus.AWAITING_PAYMENT,
        created_at=now,
        expires_at=now + timedelta(minutes=int(config("KIOSK_WALK_IN_PAY_MINUTES", 10))),
    )
    db.session.add(walk_in)
    db.session.flush()
    record(
        action=action,
        actor=account if device is None else None,
        device=device,
        hospital_id=hospital_id,
        object_type="kiosk_walk_in",
        object_id=str(walk_in.id),
        patient_id=patient_id,
        detail={"department_id": department_id},
    )
    order = orders.create_walk_in_order(
        hospital_id=hospital_id,
        patient_id=patient_id,
        walk_in_id=walk_in.id,
        fee_class=walk_in_fee_class(),
        account_id=account.id,
        now=now,
        expires_at=walk_in.expires_at,
    )
    if order is None:
        # The hospital charges nothing for a walk-in: the ticket now.
        ticket_walk_in(walk_in, now=now)
        return WalkInPayment(walk_in.id, 0, "")
    walk_in.order_id = order.id
    walk_in.fee_fen = order.self_pay_fen
    started = start_phone_payment(
        order.id, account=account, key=f"{payment_key}:{walk_in.id}", now=now
    )
    if started.payment is None:
        # Nothing left to pay (the whole fee was covered): start_payment marked the order paid
        # and order_paid issued the ticket.
        return WalkInPayment(walk_in.id, 0, "")
    return WalkInPayment(walk_in.id, order.self_pay_fen, started.redirect_url)


def walk_in_fee_class() -> str:
    """The fee class (billing's registration fees) whose price a walk-in pays."""
    return str(config("KIOSK_WALK_IN_FEE_CLASS", "general"))


def ticket_walk_in(walk_in: WalkIn, *, now: datetime) -> Ticket:
    ticket = issuing.issue_walk_in(
        actor=None,
        hospital_id=walk_in.hospital_id,
        service_point_id=walk_in.service_point_id,
        now=now,
        patient_id=walk_in.patient_id,
    )
    walk_in.ticket_id = ticket.id
    walk_in.status = WalkInStatus.TICKETED
    if walk_in.device_id is not None:  # a number taken from the phone used no kiosk
        db.session.add(
            KioskActivity(
                hospital_id=walk_in.hospital_id,
                device_id=walk_in.device_id,
                kind=ActivityKind.TICKET,
                at=now,
                ticket_id=ticket.id,
            )
        )
    db.session.flush()
    return ticket


def _walk_in_id(reference: str) -> int | None:
    ref = OrderRef.read(reference)
    return ref.id if ref is not None and ref.kind is OrderKind.WALK_IN else None


def on_order_paid(_sender: Any, **kw: Any) -> bool | None:
    """Billing reports a paid walk-in fee: issue the ticket (False: billing refunds it)."""
    walk_in_id = _walk_in_id(str(kw.get("reference", "")))
    if walk_in_id is None:
        return None
    now = kw["now"]
    # Billing holds the order's lock; the walk-in row is always locked after its order.
    walk_in = db.session.scalar(
        sa.select(WalkIn)
        .where(WalkIn.id == walk_in_id, WalkIn.hospital_id == kw.get("hospital_id"))
        .with_for_update()
    )
    if walk_in is None:
        return False
    if walk_in.ticket_id is not None:
        return True
    if walk_in.status is not WalkInStatus.AWAITING_PAYMENT or walk_in.expires_at <= now:
        walk_in.status = WalkInStatus.EXPIRED
        return False
    try:
        with db.session.begin_nested():
            ticket = ticket_walk_in(walk_in, now=now)
    except DomainError as refused:
        # The queue closed between registration and payment: billing refunds in full.
        log.info("walk-in %s paid but not ticketed: %s", walk_in.id, refused)
        walk_in.status = WalkInStatus.REFUNDED
        db.session.flush()
        return False
    record(
        action="kiosk.walk_in_paid",
        hospital_id=walk_in.hospital_id,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=walk_in.patient_id,
        detail={"walk_in_id": walk_in.id, "device_id": walk_in.device_id},
    )
    return True


def on_refund_issued(_sender: Any, **kw: Any) -> None:
    """A walk-in fee refunded in full: the walk-in's ticket, if it still waits, is cancelled."""
    walk_in_id = _walk_in_id(str(kw.get("reference", "")))
    if walk_in_id is None or not kw.get("fully_refunded"):
        return
    walk_in = db.session.get(WalkIn, walk_in_id)
    if walk_in is None or walk_in.hospital_id != kw.get("hospital_id") or walk_in.ticket_id is None:
        return
    if stations.cancel_waiting_ticket(
        walk_in.ticket_id, now=kw["now"], reason=f"walk-in {walk_in.id} refunded"
    ):
        walk_in.status = WalkInStatus.REFUNDED
        db.session.flush()


def _walk_in_of_phone(device: Device, walk_in_id: int, phone: str) -> WalkIn:
    walk_in = db.session.get(WalkIn, walk_in_id)
    allowed = {p.id for p in people_for_phone(device.hospital_id, phone)}
    if (
        walk_in is None
        or walk_in.hospital_id != device.hospital_id
        or (walk_in.patient_id not in allowed)
    ):
        raise NotFound(
            _l("We could not find this registration. Please ask at the registration desk."),
            code=ErrorCode.WALK_IN_NOT_FOUND,
        )
    return walk_in


def _walk_in_too_late() -> Conflict:
    return Conflict(
        _l(
            "The payment did not arrive in time, so no ticket was issued. If you paid, the fee "
            "is refunded automatically. Please start again."
        ),
        code=ErrorCode.PAYMENT_TOO_LATE,
    )


def walk_in_ticket(
    device: Device, walk_in_id: int, *, phone: str, now: datetime
) -> IssuedTicket | None:
    """The paid walk-in's ticket; None while the payment is still awaited."""
    walk_in = _walk_in_of_phone(device, walk_in_id, phone)
    if walk_in.ticket_id is not None:
        ticket = ticket_of_hospital(walk_in.hospital_id, walk_in.ticket_id)
        assert ticket is not None
        return IssuedTicket(ticket, True, people_ahead(ticket, now=now))
    if walk_in.status is WalkInStatus.REFUNDED:
        raise Conflict(
            _l(
                "This department stopped taking walk-in patients before your payment arrived. "
                "The fee is refunded in full. Please ask at the registration desk."
            ),
            code=ErrorCode.WALK_IN_REFUNDED,
        )
    if walk_in.status is WalkInStatus.CANCELLED:
        raise Conflict(
            _l("This registration was cancelled. Please start again."),
            code=ErrorCode.WALK_IN_CANCELLED,
        )
    # Decided at read time too: the expiry job may not have run yet.
    if walk_in.status is WalkInStatus.EXPIRED or walk_in.expires_at <= now:
        raise _walk_in_too_late()
    return None


def cancel_walk_in(device: Device, walk_in_id: int, *, phone: str, now: datetime) -> WalkIn:
    """The patient left the payment screen: void the unpaid order, so no payment lands later."""
    walk_in = _walk_in_of_phone(device, walk_in_id, phone)
    if walk_in.ticket_id is None and walk_in.status is WalkInStatus.AWAITING_PAYMENT:
        _void_walk_in(walk_in, WalkInStatus.CANCELLED, now=now)
    if walk_in.ticket_id is not None:
        raise Conflict(
            _l("This registration is already paid; its ticket has been issued."),
            code=ErrorCode.WALK_IN_PAID,
        )
    return walk_in


def _void_walk_in(walk_in: WalkIn, status: WalkInStatus, *, now: datetime) -> None:
    """Void the walk-in's order first (its lock comes before the walk-in's), then the walk-in."""
    from hospital.billing.services import cancellations

    cancellations.cancel_walk_in_order(
        hospital_id=walk_in.hospital_id,
        walk_in_id=walk_in.id,
        reason="expired" if status is WalkInStatus.EXPIRED else "cancelled",
        now=now,
    )
    locked = db.session.scalar(
        sa.select(WalkIn)
        .where(WalkIn.id == walk_in.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    if locked.ticket_id is None and locked.status is WalkInStatus.AWAITING_PAYMENT:
        locked.status = status
        db.session.flush()


def expire_walk_ins(*, now: datetime) -> int:
    """Void the orders of walk-ins whose payment did not come in time."""
    due = db.session.scalars(
        sa.select(WalkIn)
        .where(WalkIn.status == WalkInStatus.AWAITING_PAYMENT, WalkIn.expires_at <= now)
        .order_by(WalkIn.id)
        .limit(500)
    ).all()
    for walk_in in due:
        _void_walk_in(walk_in, WalkInStatus.EXPIRED, now=now)
    return len(due)
