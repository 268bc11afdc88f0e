"""Undo a counter's last action for a short time: a call, a miss, a completion, a transfer.

Only the counter's very last ticket event can be taken back, and only once (the undo is itself
the counter's last event then), so an undo never reaches behind something that happened later.
Every undo is a ticket event and an audit entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict
from queueing.models import (
    Counter,
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketEvent,
    TicketStatus,
)
from queueing.services.counters import lock_counter_and_queue
from queueing.services.queues import add_event, locked_queue, touch

UNDOABLE = (
    TicketAction.CALLED,
    TicketAction.MISSED,
    TicketAction.NO_SHOW,
    TicketAction.COMPLETED,
    TicketAction.TRANSFERRED,
)


def _not_possible() -> Conflict:
    return Conflict(
        _l("This action cannot be undone any more: the patient's ticket has moved on since."),
        code=ErrorCode.UNDO_NOT_POSSIBLE,
    )


def last_action(counter_id: int) -> TicketEvent | None:
    """The counter's last ticket event."""
    return db.session.scalar(
        sa.select(TicketEvent)
        .where(TicketEvent.counter_id == counter_id)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )


def _back_at_counter(ticket: Ticket, counter: Counter, status: TicketStatus) -> None:
    if counter.current_ticket_id is not None:
        raise _not_possible()
    ticket.status = status
    ticket.counter_id = counter.id
    counter.current_ticket_id = ticket.id
    db.session.flush()


def _undo_call(ticket: Ticket, counter: Counter, queue: ServiceQueue, event: TicketEvent) -> None:
    if ticket.status is not TicketStatus.CALLED or counter.current_ticket_id != ticket.id:
        raise _not_possible()
    counter.current_ticket_id = None
    db.session.flush()
    ticket.status = TicketStatus.WAITING
    ticket.counter_id = None
    ticket.lease_expires_at = None
    ticket.call_count = max(ticket.call_count - 1, 0)
    if ticket.call_count == 0:
        ticket.called_at = None
    if event.detail.startswith("out of order"):
        ticket.called_out_of_order_reason = ""
    since = (event.undo_state or {}).get("since")
    if isinstance(since, int):
        touch(queue, regular_since_priority=since)


def _undo_miss(
    ticket: Ticket, counter: Counter, queue: ServiceQueue, event: TicketEvent, *, now: datetime
) -> None:
    expected = (
        TicketStatus.NO_SHOW if event.action is TicketAction.NO_SHOW else TicketStatus.WAITING
    )
    if ticket.status is not expected:
        raise _not_possible()
    _back_at_counter(ticket, counter, TicketStatus.CALLED)
    ticket.misses = max(ticket.misses - 1, 0)
    ticket.finished_at = None
    ticket.lease_expires_at = now + timedelta(seconds=queue.lease_seconds)
    key = (event.undo_state or {}).get("order_key")
    if isinstance(key, str):
        ticket.order_key = datetime.fromisoformat(key)


def _undo_complete(
    ticket: Ticket, counter: Counter, event: TicketEvent, *, actor: Account, now: datetime
) -> None:
    if ticket.status is not TicketStatus.DONE:
        raise _not_possible()
    if ticket.return_queue_id is not None:
        # The return leg was issued at completion: take it back while nobody called it yet.
        back = db.session.scalar(
            sa.select(Ticket)
            .where(
                Ticket.transferred_from_id == ticket.id, Ticket.queue_id == ticket.return_queue_id
            )
            .with_for_update()
        )
        if back is not None:
            _cancel_issued(back, actor=actor, now=now)
    was_started = (event.undo_state or {}).get("was_started", True)
    _back_at_counter(ticket, counter, TicketStatus.SERVING if was_started else TicketStatus.CALLED)
    ticket.finished_at = None
    if not was_started:
        ticket.started_at = None
    if ticket.appointment_id is not None:
        from scheduling.services import changes

        changes.reopen_completed(ticket.appointment_id, actor=actor, now=now)


def _cancel_issued(ticket: Ticket, *, actor: Account, now: datetime) -> None:
    """Cancel a ticket issued by the action being undone; only while it still waits."""
    if ticket.status is not TicketStatus.WAITING:
        raise _not_possible()
    queue = locked_queue(ticket.hospital_id, ticket.queue_id)
    ticket.status = TicketStatus.CANCELLED
    ticket.finished_at = now
    add_event(ticket, TicketAction.CANCELLED, now=now, actor=actor, detail="undo")
    touch(queue)


def _undo_transfer(
    ticket: Ticket, counter: Counter, event: TicketEvent, *, actor: Account, now: datetime
) -> None:
    if ticket.status is not TicketStatus.TRANSFERRED:
        raise _not_possible()
    state = event.undo_state or {}
    onward = db.session.scalar(
        sa.select(Ticket).where(Ticket.transferred_from_id == ticket.id).with_for_update()
    )
    if onward is not None:
        _cancel_issued(onward, actor=actor, now=now)
    _back_at_counter(ticket, counter, TicketStatus(state.get("status", TicketStatus.SERVING)))
    ticket.finished_at = None
    lease = state.get("lease_expires_at")
    ticket.lease_expires_at = datetime.fromisoformat(lease) if isinstance(lease, str) else None


def undo_last(
    *, actor: Account, hospital_id: int, counter_id: int, now: datetime, window_seconds: int
) -> Ticket:
    """Take back the counter's last action if it is recent enough; audited."""
    counter, queue = lock_counter_and_queue(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action="undo"
    )
    event = last_action(counter.id)
    if event is None or event.action not in UNDOABLE or event.undone_at is not None:
        raise Conflict(
            _l("There is nothing at this counter to undo."), code=ErrorCode.NOTHING_TO_UNDO
        )
    if now - event.at > timedelta(seconds=window_seconds):
        raise Conflict(
            _l(
                "Too late to undo: an action can be undone for %(seconds)s seconds.",
                seconds=window_seconds,
            ),
            code=ErrorCode.UNDO_TOO_LATE,
        )
    ticket = db.session.get_one(
        Ticket, event.ticket_id, with_for_update=True, populate_existing=True
    )
    if ticket.queue_id != queue.id:  # a call or transfer from an earlier service day
        raise _not_possible()
    if event.action is TicketAction.CALLED:
        _undo_call(ticket, counter, queue, event)
    elif event.action in (TicketAction.MISSED, TicketAction.NO_SHOW):
        _undo_miss(ticket, counter, queue, event, now=now)
    elif event.action is TicketAction.COMPLETED:
        _undo_complete(ticket, counter, event, actor=actor, now=now)
    else:
        _undo_transfer(ticket, counter, event, actor=actor, now=now)
    event.undone_at = now
    add_event(
        ticket,
        TicketAction.UNDONE,
        now=now,
        actor=actor,
        counter=counter,
        detail=f"{event.action.value} (event {event.id})",
    )
    record(
        action="queue.undo",
        actor=actor,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=ticket.patient_id,
        detail={"undid": event.action.value, "event_id": event.id, "counter_id": counter.id},
    )
    db.session.flush()
    touch(queue)
    return ticket
