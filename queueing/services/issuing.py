"""Issue tickets: walk-ins, checked-in appointments, and staff check-in by appointment id."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital import events
from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, NotFound
from hospital.organisation.models import Hospital, ServicePoint
from hospital.patients.models import Patient
from hospital.zones import local_date, zone_for
from queueing import ordering
from queueing.live import queue_changed
from queueing.models import (
    PriorityClass,
    QueueStatus,
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketKind,
    TicketStatus,
)
from queueing.services.notify import notify_ticket
from queueing.services.queues import (
    active_service_point,
    add_event,
    find_queue,
    get_hospital,
    get_or_create_queue,
)


def _allocate_number(queue_id: int) -> int:
    """Take the queue's next number in this transaction: a rollback gives it back (no gaps).

    The same statement counts the queue event, so issuing costs one write to the queue row.
    """
    number, version = (
        db.session.execute(
            sa.update(ServiceQueue)
            .where(ServiceQueue.id == queue_id)
            .values(last_number=ServiceQueue.last_number + 1, version=ServiceQueue.version + 1)
            .returning(ServiceQueue.last_number, ServiceQueue.version)
            .execution_options(synchronize_session=False)
        )
        .tuples()
        .one()
    )
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


def issue(
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
            code=ErrorCode.QUEUE_CLOSED,
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
    add_event(ticket, TicketAction.ISSUED, now=now, actor=actor)
    if patient is not None:
        notify_ticket(ticket, queue, patient, "queue.ticket_issued", "issued", now=now)
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
    if db.session.get_bind().dialect.name == "postgresql":
        from queueing.services import issuing_pg

        return issuing_pg.issue_walk_in(
            actor=actor,
            hospital_id=hospital_id,
            service_point_id=service_point_id,
            now=now,
            patient_id=patient_id,
            priority=priority,
        )
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
        raise NotFound(_l("No such service point."), code=ErrorCode.SERVICE_POINT_NOT_FOUND)
    point, hospital = found
    patient = None
    if patient_id is not None:
        patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
        if patient is None or patient.hospital_id != hospital_id:
            raise NotFound(_l("No such patient."), code=ErrorCode.PATIENT_NOT_FOUND)
    day = local_date(now, zone_for(hospital))
    # Finding today's open queue and taking its next number is one statement: the queue row is
    # locked from here to the commit, so the fewer round trips after it the better.
    queue = db.session.scalar(_TAKE_NUMBER_TODAY, {"point_id": point.id, "day": day})
    if queue is None:
        closed = find_queue(point, day)
        if closed is None:
            raise Conflict(
                _l("This service point has no open queue today. Open it first."),
                code=ErrorCode.QUEUE_NOT_OPEN,
            )
        raise Conflict(
            _l("This queue is closed today. Ask at the desk which counter to go to."),
            code=ErrorCode.QUEUE_CLOSED,
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
    from scheduling.services.queries import appointment_of_hospital

    department_id, clinician_id = point.department_id, None
    appointment = (
        appointment_of_hospital(ticket.hospital_id, appointment_id) if appointment_id else None
    )
    if appointment is not None:
        session = appointment.slot.session
        department_id, clinician_id = session.department_id, session.clinician_id
    events.visit_checked_in.send(
        "queueing",
        appointment_id=appointment_id,
        ticket_id=ticket.id,
        hospital_id=ticket.hospital_id,
        department_id=department_id,
        clinician_id=clinician_id,
        patient_id=ticket.patient_id,
        service_point_id=point.id,
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
    point = active_service_point(hospital_id, service_point_id)
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != hospital_id:
        raise NotFound(_l("No such patient."), code=ErrorCode.PATIENT_NOT_FOUND)
    day = local_date(now, zone_for(get_hospital(hospital_id)))
    queue, _created = get_or_create_queue(point, day, now=now, actor=actor, prefix=None)
    try:
        with db.session.begin_nested():
            ticket = issue(
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
    from scheduling.services import changes
    from scheduling.services.queries import appointment_of_hospital, room_of_session

    appointment = (
        appointment_of_hospital(hospital_id, appointment_id)
        if isinstance(appointment_id, int)
        else None
    )
    if appointment is None:
        raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
    existing = db.session.scalar(sa.select(Ticket).where(Ticket.appointment_id == appointment.id))
    if existing is not None:
        return existing, False
    changes.check_in(actor=actor, appointment_id=appointment.id, now=now)
    # A session added without a room is held in its clinician's usual room.
    room = room_of_session(appointment.slot.session)
    if room is None:
        raise Conflict(
            _l("This clinic session has no room yet. Ask at the desk."),
            code=ErrorCode.SESSION_WITHOUT_ROOM,
        )
    return issue_for_appointment(
        actor=actor,
        hospital_id=hospital_id,
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        service_point_id=room,
        slot_start=appointment.slot.starts_at,
        now=now,
    )


# Staff who check a patient in by the appointment's id: at the desk, or the room's nurse.
CHECK_IN_ROLES = frozenset({Role.REGISTRAR, Role.NURSE, Role.ADMIN})


def require_check_in_role(*, actor: Account) -> None:
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
        code=ErrorCode.ROLE_REQUIRED,
    )


def staff_check_in(*, actor: Account, appointment_id: int, now: datetime) -> tuple[Ticket, bool]:
    """Staff check a patient in by the appointment (the day list): the kiosk's call, audited."""
    require_check_in_role(actor=actor)
    ticket, created = check_in(
        actor=actor, hospital_id=actor.hospital_id, appointment_id=appointment_id, now=now
    )
    audit_staff_check_in(actor=actor, ticket=ticket, created=created)
    return ticket, created


def audit_staff_check_in(*, actor: Account, ticket: Ticket, created: bool) -> None:
    """Audit a staff check-in by id (and that the staff member was shown its ticket)."""
    record(
        action="queue.check_in",
        actor=actor,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=ticket.patient_id,
        detail={"appointment_id": ticket.appointment_id, "new": created},
    )
