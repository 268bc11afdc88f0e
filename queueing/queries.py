"""Questions other packages ask about tickets and queues, answered without touching queueing's
tables from outside (ARCHITECTURE.md: neighbours talk through public functions).

`Ticket` is named here so callers can annotate with it; they read its attributes, never query
its table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from queueing.models import ACTIVE_STATUSES, ServiceQueue, TicketStatus
from queueing.models import Ticket as Ticket
from queueing.snapshots import people_ahead as _people_ahead


def ticket_for_appointment(appointment_id: int) -> Ticket | None:
    """The ticket an appointment was checked in with, if it has one (it has at most one)."""
    return db.session.scalar(sa.select(Ticket).where(Ticket.appointment_id == appointment_id))


def ticket_of_hospital(hospital_id: int, ticket_id: int) -> Ticket | None:
    """A ticket by id, if it is one of this hospital's."""
    ticket = db.session.get(Ticket, ticket_id)
    return ticket if ticket is not None and ticket.hospital_id == hospital_id else None


def tickets_per_queue(
    queue_ids: Iterable[int], *, statuses: Collection[TicketStatus] = ACTIVE_STATUSES
) -> dict[int, int]:
    """How many tickets in these states each queue holds (queues with none are left out)."""
    ids = list(queue_ids)
    if not ids:
        return {}
    return {
        queue_id: int(count)
        for queue_id, count in db.session.execute(
            sa.select(Ticket.queue_id, sa.func.count())
            .where(Ticket.queue_id.in_(ids), Ticket.status.in_(list(statuses)))
            .group_by(Ticket.queue_id)
        ).all()
    }


def latest_ticket_of_patients(hospital_id: int, patient_ids: list[int], day: date) -> Ticket | None:
    """The newest ticket of these patients in a queue of the given service day."""
    if not patient_ids:
        return None
    return db.session.scalar(
        sa.select(Ticket)
        .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
        .where(
            Ticket.hospital_id == hospital_id,
            Ticket.patient_id.in_(patient_ids),
            ServiceQueue.service_day == day,
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    )


def people_ahead(ticket: Ticket, *, now: datetime) -> int | None:
    """How many are called before this ticket (None: it is not waiting)."""
    return _people_ahead(ticket, now=now)


def tickets_of_patient_on(hospital_id: int, patient_id: int, day: date) -> list[Ticket]:
    """The patient's tickets in the queues of one service day, oldest first (every station)."""
    return list(
        db.session.scalars(
            sa.select(Ticket)
            .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
            .where(
                Ticket.hospital_id == hospital_id,
                Ticket.patient_id == patient_id,
                ServiceQueue.service_day == day,
            )
            .order_by(Ticket.created_at, Ticket.id)
        )
    )


def ticket_state(ticket: Ticket, *, now: datetime) -> dict[str, Any] | None:
    """What the patient's ticket page shows: status, ahead, ETA, counter and place."""
    from queueing.snapshots import load_state, ticket_view

    state = load_state(ticket.queue_id, now=now)
    return ticket_view(state, ticket.id) if state else None
