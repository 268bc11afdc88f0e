"""A walk-in's ticket on PostgreSQL in one statement while the queue row is locked.

The general path (`issuing.issue_walk_in`, which SQLite uses) takes the queue's next number
(locking the queue row), then inserts the ticket, its event and the statistics' row one statement
at a time: four round trips with the queue locked, and every counter and kiosk of that queue
waits behind them. Here, before any lock, one read finds the service point, the hospital, today's
queue and the new ticket's id (from its sequence: an id is no number, a gap costs nothing); the
statistics are told then (their row folds into the statement, hospital.events "Folding"); and one
statement takes the number, inserts the ticket and its event and writes that row. Numbers stay
gap-free: the number is taken under the lock, and a rollback gives it back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from hospital import events
from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, NotFound
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
    TicketEvent,
    TicketKind,
    TicketStatus,
)
from queueing.services.folding import with_folded
from queueing.services.notify import notify_ticket

# 1. Before any lock: the point, its hospital, its queues around today, and a ticket id.
_SETUP = (
    sa.select(
        ServicePoint,
        Hospital,
        ServiceQueue,
        sa.func.nextval(sa.func.pg_get_serial_sequence("ticket", "id")).label("ticket_id"),
    )
    .join(Hospital, Hospital.id == ServicePoint.hospital_id)
    .outerjoin(
        ServiceQueue,
        sa.and_(
            ServiceQueue.service_point_id == ServicePoint.id,
            ServiceQueue.service_day.between(sa.bindparam("day_from"), sa.bindparam("day_to")),
        ),
    )
    .where(ServicePoint.id == sa.bindparam("point_id"))
    .execution_options(populate_existing=True)
)


# Columns a new ticket takes the model's default for (the ORM path fills them the same way).
_DEFAULTED = ("misses", "call_count", "called_out_of_order_reason", "notify_ahead")


def _default(name: str) -> Any:
    default = Ticket.__table__.c[name].default
    assert default is not None and default.is_scalar, name
    return default.arg  # type: ignore[attr-defined]  # a scalar default has its value


def _issue_statement() -> sa.Select[Any]:
    taken = (
        sa.update(ServiceQueue)
        .where(
            ServiceQueue.id == sa.bindparam("b_queue_id"), ServiceQueue.status == QueueStatus.OPEN
        )
        .values(last_number=ServiceQueue.last_number + 1, version=ServiceQueue.version + 1)
        .returning(
            ServiceQueue.id,
            ServiceQueue.hospital_id,
            ServiceQueue.prefix,
            ServiceQueue.last_number,
            ServiceQueue.version,
        )
        .cte("taken")
    )
    number = taken.c.last_number
    padded = sa.case(
        (number < 1000, sa.func.lpad(sa.cast(number, sa.Text), 3, "0")),
        else_=sa.cast(number, sa.Text),
    )
    at = sa.bindparam("b_at", type_=Ticket.arrived_at.type)
    ticket = (
        sa.insert(Ticket)
        .from_select(
            [
                "id",
                "hospital_id",
                "queue_id",
                "number",
                "code",
                "token",
                "kind",
                "status",
                "priority",
                "patient_id",
                "arrived_at",
                "order_key",
                "issued_by_account_id",
                "created_at",
                *_DEFAULTED,
            ],
            sa.select(
                sa.bindparam("b_ticket_id", type_=sa.Integer()),
                taken.c.hospital_id,
                taken.c.id,
                number,
                taken.c.prefix + padded,
                sa.bindparam("b_token", type_=sa.String()),
                sa.literal(TicketKind.WALK_IN, Ticket.kind.type),
                sa.literal(TicketStatus.WAITING, Ticket.status.type),
                sa.bindparam("b_priority", type_=Ticket.priority.type),
                sa.bindparam("b_patient_id", type_=sa.Integer()),
                at,
                sa.bindparam("b_order_key", type_=Ticket.order_key.type),
                sa.bindparam("b_actor_id", type_=sa.Integer()),
                at,
                *(sa.literal(_default(name), Ticket.__table__.c[name].type) for name in _DEFAULTED),
            ),
            include_defaults=False,
        )
        .returning(*Ticket.__table__.c)
        .cte("issued")
    )
    event = (
        sa.insert(TicketEvent)
        .from_select(
            ["hospital_id", "ticket_id", "action", "actor_account_id", "at", "detail"],
            sa.select(
                ticket.c.hospital_id,
                ticket.c.id,
                sa.literal(TicketAction.ISSUED, TicketEvent.action.type),
                ticket.c.issued_by_account_id,
                ticket.c.created_at,
                sa.literal(""),
            ),
        )
        .returning(TicketEvent.id)
        .cte("event")
    )
    return (
        sa.select(aliased(Ticket, ticket, name="issued_ticket"), taken.c.version)
        .add_cte(taken)
        .add_cte(event)
        .join_from(ticket, taken, taken.c.id == ticket.c.queue_id)
        .execution_options(populate_existing=True)
    )


# 3. Take the number, insert the ticket and its event (and any folded statistics), at once.
_ISSUE = _issue_statement()


@dataclass(frozen=True)
class _Setup:
    point: ServicePoint
    hospital: Hospital
    queue: ServiceQueue | None
    ticket_id: int


def _setup(*, hospital_id: int, service_point_id: int, now: datetime) -> _Setup:
    """The point (404 unless active in this hospital), today's queue if any, a new ticket id."""
    utc_day = now.astimezone(UTC).date()
    rows = (
        db.session.execute(
            _SETUP,
            {
                "point_id": service_point_id,
                "day_from": utc_day - timedelta(days=1),
                "day_to": utc_day + timedelta(days=1),
            },
        ).all()
        if isinstance(service_point_id, int)
        else []
    )
    if not rows or rows[0][0].hospital_id != hospital_id or not rows[0][0].is_active:
        raise NotFound(_l("No such service point."), code=ErrorCode.SERVICE_POINT_NOT_FOUND)
    point, hospital = rows[0][0], rows[0][1]
    day = local_date(now, zone_for(hospital))
    queue = next((row[2] for row in rows if row[2] is not None and row[2].service_day == day), None)
    return _Setup(point, hospital, queue, rows[0][3])


def _require_open(queue: ServiceQueue | None) -> ServiceQueue:
    if queue is None:
        raise Conflict(
            _l("This service point has no open queue today. Open it first."),
            code=ErrorCode.QUEUE_NOT_OPEN,
        )
    if queue.status is not QueueStatus.OPEN:
        raise _closed()
    return queue


def _closed() -> Conflict:
    return Conflict(
        _l("This queue is closed today. Ask at the desk which counter to go to."),
        code=ErrorCode.QUEUE_CLOSED,
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
    """`issuing.issue_walk_in` on PostgreSQL: one statement while the queue row is locked."""
    from queueing.services.issuing import _priority_for

    found = _setup(hospital_id=hospital_id, service_point_id=service_point_id, now=now)
    patient = None
    if patient_id is not None:
        patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
        if patient is None or patient.hospital_id != hospital_id:
            raise NotFound(_l("No such patient."), code=ErrorCode.PATIENT_NOT_FOUND)
    queue = _require_open(found.queue)  # in the general path's order: point, patient, queue
    day = local_date(now, zone_for(found.hospital))
    # Told before the lock: a receiver that cannot fold (the visit, for a patient) writes now,
    # outside the queue's lock; the statistics' row goes into the statement below.
    folded: list[Any] = []
    events.visit_checked_in.send(
        "queueing",
        appointment_id=None,
        ticket_id=found.ticket_id,
        hospital_id=hospital_id,
        department_id=found.point.department_id,
        clinician_id=None,
        patient_id=patient.id if patient is not None else None,
        service_point_id=found.point.id,
        now=now,
        fold=folded,
    )
    folded_statement, folded_params = with_folded(_ISSUE, folded)
    issued = db.session.execute(
        folded_statement,
        {
            **folded_params,
            "b_queue_id": queue.id,
            "b_ticket_id": found.ticket_id,
            "b_token": secrets.token_urlsafe(16),  # 128 random bits; the QR carries only this
            "b_priority": _priority_for(patient, priority, queue, day),
            "b_patient_id": patient.id if patient is not None else None,
            "b_at": now,
            # A walk-in has no slot: its place is its arrival.
            "b_order_key": ordering.arrival_order_key(
                slot_start=None,
                arrived_at=now,
                grace=timedelta(minutes=queue.arrival_grace_minutes),
            ),
            "b_actor_id": actor.id if actor is not None else None,
        },
    ).first()
    if issued is None:  # closed since the read above (the statement took no number)
        raise _closed()
    ticket: Ticket = issued[0]
    version: int = issued[1]
    set_committed_value(queue, "last_number", ticket.number)
    set_committed_value(queue, "version", version)
    queue_changed(queue.id, version)
    if patient is not None:
        notify_ticket(ticket, queue, patient, "queue.ticket_issued", "issued", now=now)
    return ticket
