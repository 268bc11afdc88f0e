"""Queue operations: open queues, issue tickets, call, serve, transfer. The only writer of queueing tables.

Lock order, everywhere, so two operations never deadlock: queue row, then counter row, then
ticket rows. On SQLite writers are serialised by BEGIN IMMEDIATE instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from hospital import events
from hospital.accounts.models import Account, Role
from hospital.audit.service import record, record_staff_read
from hospital.db import db
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.notifications.messages import register_template
from hospital.organisation.models import Hospital, ServicePoint, ServicePointKind
from hospital.organisation.staffing import may_work, roles_working
from hospital.patients.models import Patient
from queueing import ordering
from queueing.live import queue_changed
from queueing.models import (
    Counter,
    PriorityClass,
    QueueStatus,
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketEvent,
    TicketKind,
    TicketStatus,
)

PREFIXES: dict[ServicePointKind, str] = {
    ServicePointKind.CONSULTATION_ROOM: "A",
    ServicePointKind.REGISTRATION_DESK: "R",
    ServicePointKind.CASHIER: "C",
    ServicePointKind.LAB_DRAW: "L",
    ServicePointKind.PHARMACY: "P",
    ServicePointKind.IMAGING: "I",
}

register_template(
    "queue.ticket_issued",
    subject=_l("Your number {code}"),
    body=_l("Your number at {place} is {code}. Follow your place in the queue here: {link}"),
)
register_template(
    "queue.almost_turn",
    subject=_l("{ahead} ahead of number {code}"),
    body=_l(
        "{ahead} patients are ahead of number {code} at {place}. Please make your way to "
        "room {room}, floor {floor}. {link}"
    ),
)
register_template(
    "queue.your_turn",
    subject=_l("Number {code}: your turn"),
    body=_l(
        "Number {code}: it is your turn. Please go to {place}, room {room}, floor {floor}. {directions}"
    ),
)
register_template(
    "queue.missed",
    subject=_l("Number {code} was called"),
    body=_l(
        "Number {code} was called at {place} but you were not there. You have been moved back "
        "a few places: {link}"
    ),
)


# ---- days and queues ------------------------------------------------------------------------


def local_day(timezone: str, now: datetime) -> date:
    """The hospital's service day: numbering restarts at local midnight, not UTC midnight."""
    return now.astimezone(ZoneInfo(timezone)).date()


def _service_point(hospital_id: int, service_point_id: Any) -> ServicePoint:
    point = (
        db.session.get(ServicePoint, service_point_id)
        if isinstance(service_point_id, int)
        else None
    )
    if point is None or point.hospital_id != hospital_id or not point.is_active:
        raise NotFound(_l("No such service point."), code="service_point_not_found")
    return point


def _hospital(hospital_id: int) -> Hospital:
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None
    return hospital


def may_work_at(actor: Account, point: ServicePoint) -> bool:
    """Whether this staff account's roles work the queue of this service point."""
    return may_work(actor.roles, point.kind)


def require_may_work(
    actor: Account | None, kind: ServicePointKind, service_point_id: int, *, action: str
) -> None:
    """Refuse (403, audited) a staff account whose roles do not work this kind of service point.

    No actor is the system itself (a job, a kiosk's check-in): it works every queue.
    """
    kind = ServicePointKind(kind)
    if actor is None or may_work(actor.roles, kind):
        return
    record(
        action=f"queue.{action}",
        outcome="denied",
        actor=actor,
        object_type="service_point",
        object_id=str(service_point_id),
        detail={
            "reason": "role_not_allowed",
            "kind": kind.value,
            "needs": sorted(r.value for r in roles_working(kind)),
        },
    )
    raise Forbidden(
        _l(
            "Your role does not work this queue: staff of this service point open, call and see "
            "it. Ask an administrator if you should work here."
        ),
        code="queue_role_required",
    )


def find_queue(point: ServicePoint, day: date) -> ServiceQueue | None:
    return db.session.scalar(
        sa.select(ServiceQueue).where(
            ServiceQueue.service_point_id == point.id, ServiceQueue.service_day == day
        )
    )


def open_queues_on(hospital_id: int, day: date) -> list[tuple[ServicePoint, ServiceQueue]]:
    """The hospital's active service points with an open queue that day, by point code."""
    rows = db.session.execute(
        sa.select(ServicePoint, ServiceQueue)
        .join(ServiceQueue, ServiceQueue.service_point_id == ServicePoint.id)
        .where(
            ServicePoint.hospital_id == hospital_id,
            ServicePoint.is_active.is_(True),
            ServiceQueue.service_day == day,
            ServiceQueue.status == QueueStatus.OPEN,
        )
        .order_by(ServicePoint.code)
    ).all()
    return [(point, queue) for point, queue in rows]


def _get_or_create_queue(
    point: ServicePoint, day: date, *, now: datetime, actor: Account | None, prefix: str | None
) -> tuple[ServiceQueue, bool]:
    queue = find_queue(point, day)
    if queue is not None:
        return queue, False
    queue = ServiceQueue(
        hospital_id=point.hospital_id,
        service_point_id=point.id,
        service_day=day,
        prefix=(prefix or PREFIXES.get(point.kind, "Q"))[:4],
        status=QueueStatus.OPEN,
        opened_at=now,
        opened_by_account_id=actor.id if actor else None,
    )
    # Two openers may race (a job and a check-in): the unique constraint decides, the loser
    # re-reads the winner's row without spoiling its own transaction.
    try:
        with db.session.begin_nested():
            db.session.add(queue)
    except IntegrityError:
        existing = find_queue(point, day)
        assert existing is not None
        return existing, False
    return queue, True


def open_queue(
    *,
    actor: Account | None,
    hospital_id: int,
    service_point_id: int,
    now: datetime,
    prefix: str | None = None,
) -> ServiceQueue:
    """Open (or reopen) today's queue for a service point; opening twice returns the same queue."""
    point = _service_point(hospital_id, service_point_id)
    require_may_work(actor, point.kind, point.id, action="open_queue")
    day = local_day(_hospital(hospital_id).timezone, now)
    queue, created = _get_or_create_queue(point, day, now=now, actor=actor, prefix=prefix)
    if not created and queue.status is QueueStatus.CLOSED:
        queue.status = QueueStatus.OPEN
        queue.closed_at = None
        _touch(queue)
    db.session.flush()
    return queue


def close_queue(*, actor: Account, queue_id: int, now: datetime) -> ServiceQueue:
    """Stop issuing tickets; tickets already waiting are still served."""
    queue = _locked_queue(actor.hospital_id, queue_id)
    point = queue.service_point
    require_may_work(actor, point.kind, point.id, action="close_queue")
    queue.status = QueueStatus.CLOSED
    queue.closed_at = now
    _touch(queue)
    return queue


def open_todays_queues(now: datetime) -> int:
    """Open a queue for every active service point of every hospital for its local day."""
    opened = 0
    for point in db.session.scalars(
        sa.select(ServicePoint).where(ServicePoint.is_active.is_(True))
    ):
        hospital = _hospital(point.hospital_id)
        _queue, created = _get_or_create_queue(
            point, local_day(hospital.timezone, now), now=now, actor=None, prefix=None
        )
        opened += created
    db.session.flush()
    return opened


def _locked_queue(hospital_id: int, queue_id: Any) -> ServiceQueue:
    queue = (
        db.session.scalar(
            sa.select(ServiceQueue)
            .where(ServiceQueue.id == queue_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if isinstance(queue_id, int)
        else None
    )
    if queue is None or queue.hospital_id != hospital_id:
        raise NotFound(_l("No such queue."), code="queue_not_found")
    return queue


def _touch(queue: ServiceQueue, **values: Any) -> None:
    """Count a queue event (and write values) in one statement; screens hear of it after commit."""
    # Incremented in SQL: concurrent issuers hold no lock when they read the row.
    queue_id = queue.id
    version = db.session.execute(
        sa.update(ServiceQueue)
        .where(ServiceQueue.id == queue_id)
        .values(version=ServiceQueue.version + 1, **values)
        .returning(ServiceQueue.version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    for key, value in values.items():
        set_committed_value(queue, key, value)  # written already: the ORM must not write it again
    queue_changed(queue_id, version)


def _event(
    ticket: Ticket,
    action: TicketAction,
    *,
    now: datetime,
    actor: Account | None,
    counter: Counter | None = None,
    detail: str = "",
) -> None:
    db.session.add(
        TicketEvent(
            hospital_id=ticket.hospital_id,
            ticket_id=ticket.id,
            action=action,
            counter_id=counter.id if counter else None,
            actor_account_id=actor.id if actor else None,
            at=now,
            detail=detail[:300],
        )
    )


# ---- issuing --------------------------------------------------------------------------------


def _allocate_number(queue_id: int) -> int:
    """Take the queue's next number in this transaction: a rollback gives it back (no gaps).

    The same statement counts the queue event, so issuing costs one write to the queue row.
    """
    number, version = db.session.execute(
        sa.update(ServiceQueue)
        .where(ServiceQueue.id == queue_id)
        .values(last_number=ServiceQueue.last_number + 1, version=ServiceQueue.version + 1)
        .returning(ServiceQueue.last_number, ServiceQueue.version)
        .execution_options(synchronize_session=False)
    ).one()
    queue_changed(queue_id, version)
    return number


def _priority_for(
    patient: Patient | None, requested: PriorityClass | None, queue: ServiceQueue, day: date
) -> PriorityClass:
    if requested is not None and requested is not PriorityClass.NONE:
        return requested
    if patient is not None:
        born = patient.birth_date
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        if age >= queue.elder_age:
            return PriorityClass.ELDERLY
    return PriorityClass.NONE


def _issue(
    *,
    queue: ServiceQueue,
    patient: Patient | None,
    kind: TicketKind,
    priority: PriorityClass,
    now: datetime,
    actor: Account | None,
    slot_start: datetime | None = None,
    appointment_id: int | None = None,
    transferred_from_id: int | None = None,
    return_queue_id: int | None = None,
) -> Ticket:
    if queue.status is not QueueStatus.OPEN:
        raise Conflict(
            _l("This queue is closed today. Ask at the desk which counter to go to."),
            code="queue_closed",
        )
    number = _allocate_number(queue.id)
    return _create_ticket(
        queue=queue,
        number=number,
        patient=patient,
        kind=kind,
        priority=priority,
        now=now,
        actor=actor,
        slot_start=slot_start,
        appointment_id=appointment_id,
        transferred_from_id=transferred_from_id,
        return_queue_id=return_queue_id,
    )


def _create_ticket(
    *,
    queue: ServiceQueue,
    number: int,
    patient: Patient | None,
    kind: TicketKind,
    priority: PriorityClass,
    now: datetime,
    actor: Account | None,
    slot_start: datetime | None = None,
    appointment_id: int | None = None,
    transferred_from_id: int | None = None,
    return_queue_id: int | None = None,
) -> Ticket:
    order_key = ordering.arrival_order_key(
        slot_start=slot_start,
        arrived_at=now,
        grace=timedelta(minutes=queue.arrival_grace_minutes),
    )
    ticket = Ticket(
        hospital_id=queue.hospital_id,
        queue_id=queue.id,
        number=number,
        code=f"{queue.prefix}{number:03d}",
        token=secrets.token_urlsafe(16),  # 128 random bits; the QR carries only this
        kind=kind,
        status=TicketStatus.WAITING,
        priority=priority,
        patient_id=patient.id if patient else None,
        appointment_id=appointment_id,
        slot_start=slot_start,
        arrived_at=now,
        order_key=order_key,
        transferred_from_id=transferred_from_id,
        return_queue_id=return_queue_id,
        issued_by_account_id=actor.id if actor else None,
        created_at=now,
    )
    db.session.add(ticket)
    db.session.flush()
    _event(ticket, TicketAction.ISSUED, now=now, actor=actor)
    if patient is not None:
        _notify(ticket, queue, patient, "queue.ticket_issued", "issued", now=now)
    return ticket


_TAKE_NUMBER_TODAY = (
    sa.update(ServiceQueue)
    .where(
        ServiceQueue.service_point_id == sa.bindparam("point_id"),
        ServiceQueue.service_day == sa.bindparam("day"),
        ServiceQueue.status == QueueStatus.OPEN,
    )
    .values(last_number=ServiceQueue.last_number + 1, version=ServiceQueue.version + 1)
    .returning(ServiceQueue)
    .execution_options(synchronize_session=False, populate_existing=True)
)


def issue_walk_in(
    *,
    actor: Account | None,
    hospital_id: int,
    service_point_id: int,
    now: datetime,
    patient_id: int | None = None,
    priority: PriorityClass | None = None,
) -> Ticket:
    """Give a walk-in patient (or an anonymous visitor) a ticket in today's queue."""
    found = (
        db.session.execute(
            # The hospital as an entity: the statistics listener reads it from the session.
            sa.select(ServicePoint, Hospital)
            .join(Hospital, Hospital.id == ServicePoint.hospital_id)
            .where(ServicePoint.id == service_point_id)
        ).first()
        if isinstance(service_point_id, int)
        else None
    )
    if found is None or found[0].hospital_id != hospital_id or not found[0].is_active:
        raise NotFound(_l("No such service point."), code="service_point_not_found")
    point, hospital = found
    patient = None
    if patient_id is not None:
        patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
        if patient is None or patient.hospital_id != hospital_id:
            raise NotFound(_l("No such patient."), code="patient_not_found")
    day = local_day(hospital.timezone, now)
    # Finding today's open queue and taking its next number is one statement: the queue row is
    # locked from here to the commit, so the fewer round trips after it the better.
    queue = db.session.scalar(_TAKE_NUMBER_TODAY, {"point_id": point.id, "day": day})
    if queue is None:
        closed = find_queue(point, day)
        if closed is None:
            raise Conflict(
                _l("This service point has no open queue today. Open it first."),
                code="queue_not_open",
            )
        raise Conflict(
            _l("This queue is closed today. Ask at the desk which counter to go to."),
            code="queue_closed",
        )
    queue_changed(queue.id, queue.version)
    ticket = _create_ticket(
        queue=queue,
        number=queue.last_number,
        patient=patient,
        kind=TicketKind.WALK_IN,
        priority=_priority_for(patient, priority, queue, day),
        now=now,
        actor=actor,
    )
    _report_checked_in(ticket, point, appointment_id=None, now=now)
    return ticket


def _report_checked_in(
    ticket: Ticket, point: ServicePoint, *, appointment_id: int | None, now: datetime
) -> None:
    """Tell the statistics a visit checked in: the appointment's clinic, else the service point's."""
    from scheduling.models import Appointment

    department_id, clinician_id = point.department_id, None
    appointment = db.session.get(Appointment, appointment_id) if appointment_id else None
    if appointment is not None and appointment.hospital_id == ticket.hospital_id:
        session = appointment.slot.session
        department_id, clinician_id = session.department_id, session.clinician_id
    events.visit_checked_in.send(
        "queueing",
        appointment_id=appointment_id,
        ticket_id=ticket.id,
        hospital_id=ticket.hospital_id,
        department_id=department_id,
        clinician_id=clinician_id,
        now=now,
    )


def issue_for_appointment(
    *,
    actor: Account | None,
    hospital_id: int,
    appointment_id: int,
    patient_id: int,
    service_point_id: int,
    slot_start: datetime,
    now: datetime,
    priority: PriorityClass | None = None,
) -> tuple[Ticket, bool]:
    """Ticket for a checked-in appointment; checking in twice returns the same ticket (False)."""
    existing = db.session.scalar(sa.select(Ticket).where(Ticket.appointment_id == appointment_id))
    if existing is not None:
        return existing, False
    point = _service_point(hospital_id, service_point_id)
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != hospital_id:
        raise NotFound(_l("No such patient."), code="patient_not_found")
    day = local_day(_hospital(hospital_id).timezone, now)
    queue, _created = _get_or_create_queue(point, day, now=now, actor=actor, prefix=None)
    try:
        with db.session.begin_nested():
            ticket = _issue(
                queue=queue,
                patient=patient,
                kind=TicketKind.BOOKED,
                priority=_priority_for(patient, priority, queue, day),
                now=now,
                actor=actor,
                slot_start=slot_start,
                appointment_id=appointment_id,
            )
    except IntegrityError:
        # A concurrent check-in of the same appointment won; its number was given back.
        existing = db.session.scalar(
            sa.select(Ticket).where(Ticket.appointment_id == appointment_id)
        )
        if existing is None:
            raise
        return existing, False
    # Sent after the savepoint: a check-in that lost the race above reports nothing.
    _report_checked_in(ticket, point, appointment_id=appointment_id, now=now)
    return ticket, True


def check_in(
    *, actor: Account | None, hospital_id: int, appointment_id: int, now: datetime
) -> tuple[Ticket, bool]:
    """Check a booked appointment in through scheduling and give it its ticket (idempotent)."""
    from scheduling import service as scheduling_service
    from scheduling.models import Appointment

    appointment = (
        db.session.get(Appointment, appointment_id) if isinstance(appointment_id, int) else None
    )
    if appointment is None or appointment.hospital_id != hospital_id:
        raise NotFound(_l("No such appointment."), code="appointment_not_found")
    existing = db.session.scalar(sa.select(Ticket).where(Ticket.appointment_id == appointment.id))
    if existing is not None:
        return existing, False
    scheduling_service.check_in(actor=actor, appointment_id=appointment.id, now=now)
    session = appointment.slot.session
    if session.service_point_id is None:
        raise Conflict(
            _l("This clinic session has no room yet. Ask at the desk."), code="session_without_room"
        )
    return issue_for_appointment(
        actor=actor,
        hospital_id=hospital_id,
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        service_point_id=session.service_point_id,
        slot_start=appointment.slot.starts_at,
        now=now,
    )


# Staff who check a patient in by the appointment's id: at the desk, or the room's nurse.
CHECK_IN_ROLES = frozenset({Role.REGISTRAR, Role.NURSE, Role.ADMIN})


def require_check_in_role(actor: Account) -> None:
    """Refuse (403, audited) a staff account whose role does not check patients in."""
    if actor.has_role(*CHECK_IN_ROLES):
        return
    record(
        action="queue.check_in",
        outcome="denied",
        actor=actor,
        detail={"needs": sorted(r.value for r in CHECK_IN_ROLES)},
    )
    raise Forbidden(
        _l("Your role does not check patients in. Send the patient to the registration desk."),
        code="role_required",
    )


def audit_staff_check_in(actor: Account, ticket: Ticket, *, created: bool) -> None:
    """Audit a staff check-in by id (and that the staff member was shown its ticket)."""
    record(
        action="queue.check_in",
        actor=actor,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=ticket.patient_id,
        detail={"appointment_id": ticket.appointment_id, "new": created},
    )


# ---- counters -------------------------------------------------------------------------------


def _counter(hospital_id: int, counter_id: Any, *, lock: bool) -> Counter:
    stmt = sa.select(Counter).where(Counter.id == counter_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    counter = db.session.scalar(stmt) if isinstance(counter_id, int) else None
    if counter is None or counter.hospital_id != hospital_id:
        raise NotFound(_l("No such counter."), code="counter_not_found")
    return counter


def create_counter(
    *,
    actor: Account | None,
    hospital_id: int,
    service_point_id: int,
    code: str,
    name_zh: str = "",
    name_en: str = "",
) -> Counter:
    point = _service_point(hospital_id, service_point_id)
    counter = Counter(
        hospital_id=hospital_id,
        service_point_id=point.id,
        code=code,
        name_zh=name_zh,
        name_en=name_en,
    )
    try:
        with db.session.begin_nested():
            db.session.add(counter)
    except IntegrityError:
        raise Conflict(
            _l("A counter with this code exists already."), code="counter_exists"
        ) from None
    return counter


def counter_for_staff(actor: Account, counter_id: Any, *, action: str) -> Counter:
    """A counter of the actor's hospital whose service point the actor's roles work (else 403)."""
    counter = _counter(actor.hospital_id, counter_id, lock=False)
    point = counter.service_point
    require_may_work(actor, point.kind, point.id, action=action)
    return counter


def audit_console_read(actor: Account, view: dict[str, Any], *, counter_id: int) -> None:
    """Audit that a staff console showed these waiting patients' full names."""
    from queueing.snapshots import console_patients

    record_staff_read(
        actor,
        action="queue.console.read",
        object_type="ticket",
        reads=console_patients(view),
        detail={"counter_id": counter_id},
    )


# The hot statements are built once: building a statement costs more Python than running it.
_COUNTER_QUEUES = (
    sa.select(
        Hospital.timezone,
        ServiceQueue.id,
        ServiceQueue.service_day,
        ServicePoint.kind,
        ServicePoint.id,
    )
    .select_from(Counter)
    .join(Hospital, Hospital.id == Counter.hospital_id)
    .join(ServicePoint, ServicePoint.id == Counter.service_point_id)
    .outerjoin(
        ServiceQueue,
        sa.and_(
            ServiceQueue.service_point_id == Counter.service_point_id,
            ServiceQueue.service_day.between(sa.bindparam("day_from"), sa.bindparam("day_to")),
        ),
    )
    .where(
        Counter.id == sa.bindparam("counter_id"), Counter.hospital_id == sa.bindparam("hospital_id")
    )
)
# FOR UPDATE without OF locks the rows in FROM order: the queue row, then the counter row.
_LOCK_QUEUE_AND_COUNTER = (
    sa.select(ServiceQueue, Counter)
    .join(Counter, Counter.service_point_id == ServiceQueue.service_point_id)
    .where(ServiceQueue.id == sa.bindparam("queue_id"), Counter.id == sa.bindparam("counter_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def _lock_counter_and_queue(
    hospital_id: int, counter_id: Any, now: datetime, *, actor: Account | None, action: str
) -> tuple[Counter, ServiceQueue]:
    """Lock today's queue of the counter, then the counter (the lock order everywhere).

    A staff account whose roles do not work the counter's service point is refused first.
    """
    if not isinstance(counter_id, int):
        raise NotFound(_l("No such counter."), code="counter_not_found")
    # One read finds the hospital's zone and the point's queues around today (a local day is
    # within a day of the UTC one); a second locks both rows. Each round trip made while the
    # queue row is locked delays every other counter and kiosk of that queue.
    utc_day = now.astimezone(UTC).date()
    rows = db.session.execute(
        _COUNTER_QUEUES,
        {
            "counter_id": counter_id,
            "hospital_id": hospital_id,
            "day_from": utc_day - timedelta(days=1),
            "day_to": utc_day + timedelta(days=1),
        },
    ).all()
    if not rows:
        raise NotFound(_l("No such counter."), code="counter_not_found")
    require_may_work(actor, rows[0][3], rows[0][4], action=action)
    day = local_day(rows[0][0], now)
    queue_id = next((queue_id for _tz, queue_id, on, _kind, _point in rows if on == day), None)
    if queue_id is None:
        raise Conflict(
            _l("This counter's queue is not open today. Open it first."), code="queue_not_open"
        )
    locked = db.session.execute(
        _LOCK_QUEUE_AND_COUNTER, {"queue_id": queue_id, "counter_id": counter_id}
    ).first()
    if locked is None:  # the counter moved to another service point meanwhile
        raise NotFound(_l("No such counter."), code="counter_not_found")
    queue, counter = locked
    return counter, queue


# Enough of each lane's head to place positions 0..20: a patient may ask to be told at up to
# 20 people ahead (set_notify_ahead), position p takes at most p + 1 tickets from one lane, and
# call-next removes one more. The policy never looks further down a lane for those positions.
LINE_HEAD = 22


@dataclass(frozen=True)
class InLine:
    """A waiting ticket as the ordering and the almost-your-turn notice need it."""

    waiting: ordering.Waiting
    patient_id: int | None
    notify_ahead: int


def _line_heads_statement() -> sa.Select[Any]:
    lane = sa.case(
        (Ticket.status == TicketStatus.CALLED, 3),
        (Ticket.priority == PriorityClass.EMERGENCY, 0),
        (Ticket.priority == PriorityClass.NONE, 2),
        else_=1,
    )
    ranked = (
        sa.select(
            Ticket.id,
            Ticket.number,
            Ticket.priority,
            Ticket.order_key,
            Ticket.arrived_at,
            Ticket.slot_start,
            Ticket.misses,
            Ticket.patient_id,
            Ticket.notify_ahead,
            Ticket.status,
            sa.func.row_number()
            .over(partition_by=lane, order_by=(Ticket.order_key, Ticket.number))
            .label("place"),
        )
        .where(
            Ticket.queue_id == sa.bindparam("queue_id"),
            sa.or_(
                Ticket.status == TicketStatus.WAITING,
                sa.and_(
                    Ticket.status == TicketStatus.CALLED,
                    Ticket.lease_expires_at <= sa.bindparam("now"),
                ),
            ),
        )
        .subquery()
    )
    return sa.select(ranked).where(ranked.c.place <= LINE_HEAD)


_LINE_HEADS = _line_heads_statement()


def _line_heads(queue_id: int, now: datetime) -> tuple[list[InLine], bool]:
    """The first LINE_HEAD waiting tickets of each lane, and whether a called lease ran out.

    The queue row is locked while this runs: reading the heads instead of the whole line keeps
    call-next the same cost however long the queue grows.
    """
    rows = db.session.execute(_LINE_HEADS, {"queue_id": queue_id, "now": now}).all()
    expired = any(row.status is TicketStatus.CALLED for row in rows)
    line = [
        InLine(
            ordering.Waiting(
                id=row.id,
                number=row.number,
                priority=PriorityClass(row.priority).value,
                order_key=row.order_key,
                arrived_at=row.arrived_at,
                slot_start=row.slot_start,
                misses=row.misses,
            ),
            row.patient_id,
            row.notify_ahead,
        )
        for row in rows
        if row.status is not TicketStatus.CALLED
    ]
    return line, expired


def policy_for(queue: ServiceQueue) -> ordering.Policy:
    return ordering.Policy(
        priority_ratio=queue.priority_ratio, ageing=timedelta(minutes=queue.ageing_minutes)
    )


def as_waiting(ticket: Ticket) -> ordering.Waiting:
    return ordering.Waiting(
        id=ticket.id,
        number=ticket.number,
        priority=ticket.priority.value,
        order_key=ticket.order_key,
        arrived_at=ticket.arrived_at,
        slot_start=ticket.slot_start,
        misses=ticket.misses,
    )


def release_expired_leases(now: datetime, *, queue_id: int | None = None) -> int:
    """Put called tickets whose lease ran out back in line at their old place."""
    stmt = sa.select(Ticket).where(
        Ticket.status == TicketStatus.CALLED, Ticket.lease_expires_at <= now
    )
    if queue_id is not None:
        stmt = stmt.where(Ticket.queue_id == queue_id)
    released = 0
    for ticket in db.session.scalars(stmt.with_for_update()).all():
        counter = db.session.get(Counter, ticket.counter_id) if ticket.counter_id else None
        if counter is not None and counter.current_ticket_id == ticket.id:
            counter.current_ticket_id = None
        ticket.status = TicketStatus.WAITING
        ticket.counter_id = None
        ticket.lease_expires_at = None
        db.session.flush()
        _event(ticket, TicketAction.LEASE_EXPIRED, now=now, actor=None, counter=counter)
        queue = db.session.get(ServiceQueue, ticket.queue_id)
        assert queue is not None
        _touch(queue)
        released += 1
    db.session.flush()
    return released


@dataclass
class CallResult:
    ticket: Ticket | None
    repeated: bool  # True: the counter had this ticket already (a double-click or a retry)
    reason: str = ""
    detail: dict[str, Any] | None = None


def _assign(
    ticket: Ticket,
    counter: Counter,
    queue: ServiceQueue,
    *,
    now: datetime,
    actor: Account | None,
    written: bool = False,
) -> None:
    """Give the ticket to the counter; `written`: the ticket row says so already (call-next)."""
    if not written:
        ticket.status = TicketStatus.CALLED
        ticket.counter_id = counter.id
        ticket.called_at = now
        ticket.call_count += 1
        ticket.lease_expires_at = now + timedelta(seconds=queue.lease_seconds)
        db.session.flush()
    counter.current_ticket_id = ticket.id
    db.session.flush()
    if ticket.call_count == 1:
        # Only the first call ends the wait; a call after a miss or a lapsed lease does not.
        events.ticket_first_called.send(
            "queueing", ticket_id=ticket.id, hospital_id=ticket.hospital_id, now=now
        )
    since = queue.regular_since_priority
    if ticket.priority is PriorityClass.NONE:
        since += 1
    elif ticket.priority is not PriorityClass.EMERGENCY:
        since = 0
    _touch(queue, regular_since_priority=since)
    if ticket.patient_id:
        patient = db.session.get(Patient, ticket.patient_id)
        if patient is not None:
            _notify(ticket, queue, patient, "queue.your_turn", "turn", now=now)


_CALL_WAITING = (
    sa.update(Ticket)
    .where(Ticket.id == sa.bindparam("the_ticket"), Ticket.status == TicketStatus.WAITING)
    .values(
        status=TicketStatus.CALLED,
        counter_id=sa.bindparam("to_counter", type_=sa.Integer()),
        called_at=sa.bindparam("at", type_=Ticket.called_at.type),
        call_count=Ticket.call_count + 1,
        lease_expires_at=sa.bindparam("lease_until", type_=Ticket.lease_expires_at.type),
    )
    .returning(Ticket)
    .execution_options(synchronize_session=False, populate_existing=True)
)


def call_next(
    *, actor: Account | None, hospital_id: int, counter_id: int, now: datetime
) -> CallResult:
    """Call the next ticket to this counter; a repeat returns the ticket it already has (invariant 5)."""
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="call_next"
    )
    # One read for the heads of the line and any called ticket whose lease ran out (rare:
    # released first).
    line, expired = _line_heads(queue.id, now)
    if expired:
        release_expired_leases(now, queue_id=queue.id)
        db.session.refresh(counter)
        line, _expired = _line_heads(queue.id, now)
    if counter.current_ticket_id is not None:
        current = db.session.get(Ticket, counter.current_ticket_id)
        if current is not None and current.status in (TicketStatus.CALLED, TicketStatus.SERVING):
            return CallResult(current, repeated=True)
    if counter.is_paused:
        raise Conflict(
            _l("This counter is paused. Resume it before calling."), code="counter_paused"
        )
    placement = ordering.next_ticket(
        [t.waiting for t in line],
        policy=policy_for(queue),
        regular_since_priority=queue.regular_since_priority,
        now=now,
    )
    if placement is None:
        return CallResult(None, repeated=False)
    # Read and call the chosen ticket in one statement (the queue row is locked meanwhile).
    ticket = db.session.scalar(
        _CALL_WAITING,
        {
            "the_ticket": placement.ticket.id,
            "to_counter": counter.id,
            "at": now,
            "lease_until": now + timedelta(seconds=queue.lease_seconds),
        },
    )
    assert ticket is not None  # waiting tickets change only under the queue lock held here
    _assign(ticket, counter, queue, now=now, actor=actor, written=True)
    _event(
        ticket, TicketAction.CALLED, now=now, actor=actor, counter=counter, detail=placement.reason
    )
    _maybe_notify_almost(queue, now=now, line=[t for t in line if t.waiting.id != ticket.id])
    return CallResult(ticket, repeated=False, reason=placement.reason, detail=placement.detail)


def call_ticket(
    *, actor: Account, hospital_id: int, counter_id: int, ticket_id: int, reason: str, now: datetime
) -> CallResult:
    """Call a particular waiting ticket out of order: only with a reason, and audited."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput(
            _l("Say why this patient is called out of order (at least 3 characters)."),
            code="reason_required",
        )
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="call_ticket"
    )
    if counter.is_paused:
        raise Conflict(
            _l("This counter is paused. Resume it before calling."), code="counter_paused"
        )
    if counter.current_ticket_id is not None:
        raise Conflict(
            _l("Finish or mark missed the current ticket before calling another."),
            code="counter_busy",
        )
    ticket = _ticket_in_queue(queue, ticket_id, lock=True)
    if ticket.status is not TicketStatus.WAITING:
        raise Conflict(_l("This ticket is not waiting."), code="ticket_not_waiting")
    ticket.called_out_of_order_reason = reason[:300]
    _assign(ticket, counter, queue, now=now, actor=actor)
    _event(
        ticket,
        TicketAction.CALLED,
        now=now,
        actor=actor,
        counter=counter,
        detail=f"out of order: {reason}",
    )
    record(
        action="queue.call_out_of_order",
        actor=actor,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=ticket.patient_id,
        detail={"reason": reason[:300], "counter_id": counter.id},
    )
    _maybe_notify_almost(queue, now=now)
    return CallResult(ticket, repeated=False, reason="out_of_order", detail={"reason": reason})


def _ticket_in_queue(queue: ServiceQueue, ticket_id: Any, *, lock: bool) -> Ticket:
    stmt = sa.select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    ticket = db.session.scalar(stmt) if isinstance(ticket_id, int) else None
    if ticket is None or ticket.queue_id != queue.id:
        raise NotFound(_l("No such ticket in this queue."), code="ticket_not_found")
    return ticket


def _current(counter: Counter, queue: ServiceQueue, ticket_id: int | None) -> Ticket:
    """The counter's current ticket; ticket_id, when given, must be that ticket."""
    if ticket_id is not None:
        ticket = _ticket_in_queue(queue, ticket_id, lock=True)
        if ticket.id != counter.current_ticket_id:
            if ticket.status is TicketStatus.WAITING:
                raise Conflict(
                    _l("This ticket has not been called. Call it first."), code="ticket_not_called"
                )
            raise Conflict(
                _l("This ticket is not at this counter. Reload the console."),
                code="ticket_not_at_counter",
            )
        return ticket
    if counter.current_ticket_id is None:
        raise Conflict(
            _l("No ticket has been called at this counter. Call the next patient first."),
            code="no_ticket_called",
        )
    ticket = db.session.get(Ticket, counter.current_ticket_id, with_for_update=True)
    assert ticket is not None
    return ticket


def recall(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """Announce the current ticket again and renew its lease."""
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="recall"
    )
    ticket = _current(counter, queue, ticket_id)
    if ticket.status is not TicketStatus.CALLED:
        raise Conflict(_l("Only a called ticket can be called again."), code="ticket_not_called")
    ticket.call_count += 1
    ticket.called_at = now
    ticket.lease_expires_at = now + timedelta(seconds=queue.lease_seconds)
    _event(ticket, TicketAction.RECALLED, now=now, actor=actor, counter=counter)
    _touch(queue)
    return ticket


def start(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """The patient arrived at the counter: start serving (the lease no longer applies)."""
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="start"
    )
    ticket = _current(counter, queue, ticket_id)
    if ticket.status is TicketStatus.SERVING:
        return ticket
    ticket.status = TicketStatus.SERVING
    ticket.started_at = now
    ticket.lease_expires_at = None
    _event(ticket, TicketAction.STARTED, now=now, actor=actor, counter=counter)
    events.ticket_serving_started.send(
        "queueing", ticket_id=ticket.id, hospital_id=ticket.hospital_id, now=now
    )
    _touch(queue)
    return ticket


def _release_counter(counter: Counter, ticket: Ticket) -> None:
    counter.current_ticket_id = None
    db.session.flush()


_FINISH_CURRENT = (
    sa.update(Ticket)
    .where(Ticket.id == sa.bindparam("the_ticket"), Ticket.queue_id == sa.bindparam("in_queue"))
    .values(
        status=TicketStatus.DONE,
        started_at=sa.func.coalesce(
            Ticket.started_at, sa.bindparam("at", type_=Ticket.started_at.type)
        ),
        finished_at=sa.bindparam("at", type_=Ticket.finished_at.type),
        lease_expires_at=None,
    )
    .returning(Ticket)
    .execution_options(synchronize_session=False, populate_existing=True)
)


def complete(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """Finish serving the current ticket; a transfer's return leg is issued now."""
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="complete"
    )
    ticket = None
    if counter.current_ticket_id is not None and ticket_id in (None, counter.current_ticket_id):
        # The counter's own ticket (the usual case): read and finish it in one statement.
        ticket = db.session.scalar(
            _FINISH_CURRENT,
            {"the_ticket": counter.current_ticket_id, "in_queue": queue.id, "at": now},
        )
    if ticket is None:
        ticket = _current(counter, queue, ticket_id)
        if ticket.started_at is None:
            ticket.started_at = now
        ticket.status = TicketStatus.DONE
        ticket.finished_at = now
        ticket.lease_expires_at = None
    _release_counter(counter, ticket)
    _event(ticket, TicketAction.COMPLETED, now=now, actor=actor, counter=counter)
    events.ticket_completed.send(
        "queueing", ticket_id=ticket.id, hospital_id=ticket.hospital_id, now=now
    )
    _touch(queue)
    if ticket.appointment_id is not None:
        _complete_appointment(actor, ticket.appointment_id, now=now)
    if ticket.return_queue_id is not None:
        back = _locked_queue(hospital_id, ticket.return_queue_id)
        if back.status is QueueStatus.OPEN:
            patient = db.session.get(Patient, ticket.patient_id) if ticket.patient_id else None
            _issue(
                queue=back,
                patient=patient,
                kind=TicketKind.TRANSFER,
                priority=PriorityClass.RETURNING,
                now=now,
                actor=actor,
                transferred_from_id=ticket.id,
            )
    return ticket


def _complete_appointment(actor: Account | None, appointment_id: int, *, now: datetime) -> None:
    """The consultation is over: scheduling marks the checked-in appointment completed."""
    from scheduling import service as scheduling_service
    from scheduling.models import Appointment, AppointmentState

    appointment = db.session.get(Appointment, appointment_id)
    if appointment is not None and appointment.state is AppointmentState.CHECKED_IN:
        scheduling_service.complete(actor, appointment_id, now=now)


def mark_missed(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """The patient did not come: back a few places, or no-show after the queue's limit."""
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="mark_missed"
    )
    ticket = _current(counter, queue, ticket_id)
    if ticket.status is not TicketStatus.CALLED:
        raise Conflict(_l("Only a called ticket can be marked missed."), code="ticket_not_called")
    # Only the order keys of the ticket's own lane (regular or priority) place it back.
    in_lane = (
        Ticket.priority == PriorityClass.NONE
        if ticket.priority is PriorityClass.NONE
        else Ticket.priority != PriorityClass.NONE
    )
    same_lane = list(
        db.session.scalars(
            sa.select(Ticket.order_key).where(
                Ticket.queue_id == queue.id, Ticket.status == TicketStatus.WAITING, in_lane
            )
        )
    )
    ticket.misses += 1
    ticket.lease_expires_at = None
    ticket.counter_id = None
    if ticket.misses >= queue.max_misses:
        ticket.status = TicketStatus.NO_SHOW
        ticket.finished_at = now
        _release_counter(counter, ticket)
        _event(ticket, TicketAction.NO_SHOW, now=now, actor=actor, counter=counter)
    else:
        ticket.order_key = ordering.order_key_after_miss(
            same_lane, setback=queue.miss_setback, now=now
        )
        ticket.status = TicketStatus.WAITING
        _release_counter(counter, ticket)
        _event(ticket, TicketAction.MISSED, now=now, actor=actor, counter=counter)
        if ticket.patient_id:
            patient = db.session.get(Patient, ticket.patient_id)
            if patient is not None:
                _notify(ticket, queue, patient, "queue.missed", f"missed{ticket.misses}", now=now)
    db.session.flush()
    _touch(queue)
    return ticket


def transfer(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    to_service_point_id: int,
    now: datetime,
    come_back: bool = False,
    ticket_id: int | None = None,
) -> Ticket:
    """Send the current patient to another queue (e.g. lab draw), optionally returning here after."""
    counter, queue = _lock_counter_and_queue(
        hospital_id, counter_id, now, actor=actor, action="transfer"
    )
    ticket = _current(counter, queue, ticket_id)
    point = _service_point(hospital_id, to_service_point_id)
    target = find_queue(point, queue.service_day)
    if target is None or target.status is not QueueStatus.OPEN:
        raise Conflict(
            _l("That queue is closed today. Choose another service point."), code="queue_closed"
        )
    if target.id == queue.id:
        raise InvalidInput(
            _l("Choose a different service point to transfer to."), code="same_queue"
        )
    ticket.status = TicketStatus.TRANSFERRED
    ticket.finished_at = now
    ticket.lease_expires_at = None
    _release_counter(counter, ticket)
    _event(
        ticket,
        TicketAction.TRANSFERRED,
        now=now,
        actor=actor,
        counter=counter,
        detail=f"to queue {target.id}",
    )
    _touch(queue)
    patient = db.session.get(Patient, ticket.patient_id) if ticket.patient_id else None
    target = _locked_queue(hospital_id, target.id)
    return _issue(
        queue=target,
        patient=patient,
        kind=TicketKind.TRANSFER,
        priority=ticket.priority,
        now=now,
        actor=actor,
        transferred_from_id=ticket.id,
        return_queue_id=queue.id if come_back else None,
    )


def set_paused(
    *, actor: Account, hospital_id: int, counter_id: int, paused: bool, now: datetime
) -> Counter:
    """Pause or resume a counter; a paused counter cannot call."""
    # The queue row first, as everywhere: locking the counter first could deadlock a call.
    queue: ServiceQueue | None
    try:
        counter, queue = _lock_counter_and_queue(
            hospital_id, counter_id, now, actor=actor, action="set_paused"
        )
    except Conflict:  # no queue today: only the counter to lock
        counter, queue = _counter(hospital_id, counter_id, lock=True), None
    counter.is_paused = paused
    counter.paused_at = now if paused else None
    if queue is not None:
        _touch(queue)
    record(
        action="queue.counter_paused" if paused else "queue.counter_resumed",
        actor=actor,
        object_type="queue_counter",
        object_id=str(counter.id),
    )
    return counter


def set_notify_ahead(*, token: str, ahead: int) -> Ticket:
    """The patient picks at how many people ahead they want to be told to come."""
    ticket = ticket_by_token(token)
    if not 1 <= ahead <= 20:
        raise InvalidInput(_l("Pick a number between 1 and 20."), code="notify_ahead_out_of_range")
    ticket.notify_ahead = ahead
    return ticket


def ticket_by_token(token: Any) -> Ticket:
    ticket = (
        db.session.scalar(sa.select(Ticket).where(Ticket.token == token))
        if isinstance(token, str) and 16 <= len(token) <= 43
        else None
    )
    if ticket is None:
        raise NotFound(
            _l("This ticket link is not valid. Scan the QR code on your ticket again."),
            code="ticket_not_found",
        )
    return ticket


# ---- notifications --------------------------------------------------------------------------


def ticket_link(ticket: Ticket) -> str:
    base = current_app.config.get("PUBLIC_URL", "") if has_app_context() else ""
    return f"{base.rstrip('/')}/q/{ticket.token}"


def _notify(
    ticket: Ticket,
    queue: ServiceQueue,
    patient: Patient,
    template: str,
    key: str,
    *,
    now: datetime,
    ahead: int = 0,
) -> None:
    from hospital.notifications.service import notify_patient
    from hospital.patients.access import Permission

    point = queue.service_point
    notify_patient(
        patient,
        template,
        {
            "code": ticket.code,
            "place": f"{point.name_zh} {point.name_en}",
            "room": point.room or point.code,
            "floor": point.floor or "-",
            "directions": point.directions_zh or point.directions_en,
            "link": ticket_link(ticket),
            "ahead": ahead,
        },
        now=now,
        dedupe_key=f"ticket:{ticket.id}:{key}",
        family_permission=Permission.BOOK,
    )


def _maybe_notify_almost(
    queue: ServiceQueue, *, now: datetime, line: list[InLine] | None = None
) -> None:
    """Tell each waiting patient once when the people ahead drop to their chosen threshold."""
    if line is None:
        line, _expired = _line_heads(queue.id, now)
    if not any(t.patient_id for t in line):
        return
    placements = ordering.order(
        [t.waiting for t in line],
        policy=policy_for(queue),
        regular_since_priority=queue.regular_since_priority,
        now=now,
    )
    by_id = {t.waiting.id: t for t in line if t.patient_id}
    for placement in placements:
        entry = by_id.get(placement.ticket.id)
        if entry is None or placement.position > entry.notify_ahead:
            continue
        ticket = db.session.get(Ticket, entry.waiting.id)
        patient = db.session.get(Patient, entry.patient_id)
        if ticket is not None and patient is not None:
            _notify(
                ticket,
                queue,
                patient,
                "queue.almost_turn",
                "almost",
                now=now,
                ahead=placement.position,
            )
