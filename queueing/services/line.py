"""The head of a queue's line, read for the ordering policy (call next, almost-your-turn)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from queueing import ordering
from queueing.models import PriorityClass, ServiceQueue, Ticket, TicketStatus

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


# The lane a ticket waits in (emergency, priority, regular), with called tickets apart.
_LANE = sa.case(
    (Ticket.status == TicketStatus.CALLED, 3),
    (Ticket.priority == PriorityClass.EMERGENCY, 0),
    (Ticket.priority == PriorityClass.NONE, 2),
    else_=1,
)


def heads_statement(in_queues: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """The first LINE_HEAD waiting tickets of each lane of each queue `in_queues` picks, and any
    called ticket whose lease ran out by the bound `now` (status CALLED: the caller decides)."""
    ranked = (
        sa.select(
            Ticket.queue_id,
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
            Ticket.call_count,
            sa.func.row_number()
            .over(partition_by=(Ticket.queue_id, _LANE), order_by=(Ticket.order_key, Ticket.number))
            .label("place"),
        )
        .where(
            in_queues,
            sa.or_(
                Ticket.status == TicketStatus.WAITING,
                sa.and_(
                    Ticket.status == TicketStatus.CALLED,
                    Ticket.lease_expires_at <= sa.bindparam("now"),
                ),
            ),
        )
        .subquery("ranked")
    )
    return sa.select(ranked).where(ranked.c.place <= LINE_HEAD)


def in_line(row: Any) -> InLine:
    """A row of heads_statement as the ordering sees it."""
    return InLine(
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


_LINE_HEADS = heads_statement(Ticket.queue_id == sa.bindparam("queue_id"))


def line_heads(queue_id: int, *, now: datetime) -> tuple[list[InLine], bool]:
    """The first LINE_HEAD waiting tickets of each lane, and whether a called lease ran out.

    The queue row is locked while this runs: reading the heads instead of the whole line keeps
    call-next the same cost however long the queue grows.
    """
    rows = db.session.execute(_LINE_HEADS, {"queue_id": queue_id, "now": now}).all()
    expired = any(row.status is TicketStatus.CALLED for row in rows)
    line = [in_line(row) for row in rows if row.status is not TicketStatus.CALLED]
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
