"""Call tickets to counters: call next, call out of order, recall, missed, lapsed leases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital import events
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput
from hospital.patients.models import Patient
from queueing import ordering
from queueing.models import (
    CallRule,
    Counter,
    PriorityClass,
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketStatus,
)
from queueing.services.counters import (
    current_ticket,
    lock_counter_and_queue,
    lock_for_calling,
    release_counter,
    ticket_in_queue,
)
from queueing.services.line import InLine, line_heads, policy_for
from queueing.services.notify import maybe_notify_almost, notify_ticket
from queueing.services.queues import add_event, touch


def release_expired_leases(*, now: datetime, queue_id: int | None = None) -> int:
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
        add_event(ticket, TicketAction.LEASE_EXPIRED, now=now, actor=None, counter=counter)
        queue = db.session.get(ServiceQueue, ticket.queue_id)
        assert queue is not None
        touch(queue)
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
            "queueing",
            ticket_id=ticket.id,
            hospital_id=ticket.hospital_id,
            now=now,
            counter_id=counter.id,
            counter_code=counter.code,
            counter_point_id=counter.service_point_id,
            account_id=actor.id if actor is not None else None,
        )
    touch(
        queue,
        regular_since_priority=since_after_call(queue.regular_since_priority, ticket.priority),
    )
    if ticket.patient_id:
        patient = db.session.get(Patient, ticket.patient_id)
        if patient is not None:
            notify_ticket(ticket, queue, patient, "queue.your_turn", "turn", now=now)


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


def choose_next(
    lines: list[tuple[ordering.Policy, int, list[InLine]]], *, rule: CallRule, now: datetime
) -> tuple[int, ordering.Placement] | None:
    """Each queue's own next patient by its own ordering (so each keeps its fairness
    guarantees), then the counter's rule between the queues: (the queue's index, placement).

    `lines` holds, per queue in the counter's order: its policy, its regular-since-priority
    count and the heads of its line."""
    candidates: list[tuple[int, ordering.Placement]] = []
    for rank, (policy, since, line) in enumerate(lines):
        placement = ordering.next_ticket(
            [t.waiting for t in line], policy=policy, regular_since_priority=since, now=now
        )
        if placement is not None:
            candidates.append((rank, placement))
    if not candidates:
        return None
    if rule is CallRule.PRIORITY_ORDER:
        return min(candidates, key=lambda c: c[0])
    return min(
        candidates,
        key=lambda c: (c[1].ticket.priority != ordering.EMERGENCY, c[1].ticket.arrived_at, c[0]),
    )


def since_after_call(since: int, priority: PriorityClass) -> int:
    """The queue's regular-since-priority count once a ticket of this class is called."""
    if priority is PriorityClass.NONE:
        return since + 1
    if priority is PriorityClass.EMERGENCY:
        return since
    return 0


def call_next(
    *, actor: Account | None, hospital_id: int, counter_id: int, now: datetime
) -> CallResult:
    """Call the next ticket to this counter; a repeat returns the ticket it already has (invariant 5)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from queueing.services import calling_pg

        done = calling_pg.call_next(
            actor=actor, hospital_id=hospital_id, counter_id=counter_id, now=now
        )
        if done is not None:
            return done
    counter, queues = lock_for_calling(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action="call_next"
    )
    return _call_next_from(counter, queues, actor=actor, now=now)


def _call_next_from(
    counter: Counter, queues: list[ServiceQueue], *, actor: Account | None, now: datetime
) -> CallResult:
    """Call-next once every queue is locked: each queue's own next patient by its own ordering
    (so each keeps its fairness guarantees), then the counter's rule between the queues."""
    # One read per queue for the heads of the line and any called ticket whose lease ran out
    # (rare: released first, which may free this counter's own lapsed ticket).
    lines: list[list[InLine]] = []
    released = False
    for queue in queues:
        line, expired = line_heads(queue.id, now=now)
        if expired:
            release_expired_leases(now=now, queue_id=queue.id)
            released = True
            line, _expired = line_heads(queue.id, now=now)
        lines.append(line)
    if released:
        db.session.refresh(counter)
    if counter.current_ticket_id is not None:
        current = db.session.get(Ticket, counter.current_ticket_id)
        if current is not None and current.status in (TicketStatus.CALLED, TicketStatus.SERVING):
            return CallResult(current, repeated=True)
    if counter.is_paused:
        raise Conflict(
            _l("This counter is paused. Resume it before calling."), code=ErrorCode.COUNTER_PAUSED
        )
    chosen = choose_next(
        [
            (policy_for(queue), queue.regular_since_priority, line)
            for queue, line in zip(queues, lines, strict=True)
        ],
        rule=counter.call_rule,
        now=now,
    )
    if chosen is None:
        return CallResult(None, repeated=False)
    index, placement = chosen
    queue, line = queues[index], lines[index]
    since_before = queue.regular_since_priority
    # Read and call the chosen ticket in one statement (its queue row is locked meanwhile).
    ticket = db.session.scalar(
        _CALL_WAITING,
        {
            "the_ticket": placement.ticket.id,
            "to_counter": counter.id,
            "at": now,
            "lease_until": now + timedelta(seconds=queue.lease_seconds),
        },
    )
    assert ticket is not None  # waiting tickets change only under the queue locks held here
    _assign(ticket, counter, queue, now=now, actor=actor, written=True)
    add_event(
        ticket,
        TicketAction.CALLED,
        now=now,
        actor=actor,
        counter=counter,
        detail=placement.reason,
        undo_state={"since": since_before},
    )
    maybe_notify_almost(queue, now=now, line=[t for t in line if t.waiting.id != ticket.id])
    return CallResult(ticket, repeated=False, reason=placement.reason, detail=placement.detail)


def call_ticket(
    *, actor: Account, hospital_id: int, counter_id: int, ticket_id: int, reason: str, now: datetime
) -> CallResult:
    """Call a particular waiting ticket out of order: only with a reason, and audited."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise InvalidInput(
            _l("Say why this patient is called out of order (at least 3 characters)."),
            code=ErrorCode.REASON_REQUIRED,
        )
    counter, queue = lock_counter_and_queue(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action="call_ticket"
    )
    if counter.is_paused:
        raise Conflict(
            _l("This counter is paused. Resume it before calling."), code=ErrorCode.COUNTER_PAUSED
        )
    if counter.current_ticket_id is not None:
        raise Conflict(
            _l("Finish or mark missed the current ticket before calling another."),
            code=ErrorCode.COUNTER_BUSY,
        )
    ticket = ticket_in_queue(queue, ticket_id, lock=True)
    if ticket.status is not TicketStatus.WAITING:
        raise Conflict(_l("This ticket is not waiting."), code=ErrorCode.TICKET_NOT_WAITING)
    since_before = queue.regular_since_priority
    ticket.called_out_of_order_reason = reason[:300]
    _assign(ticket, counter, queue, now=now, actor=actor)
    add_event(
        ticket,
        TicketAction.CALLED,
        now=now,
        actor=actor,
        counter=counter,
        detail=f"out of order: {reason}",
        undo_state={"since": since_before},
    )
    record(
        action="queue.call_out_of_order",
        actor=actor,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=ticket.patient_id,
        detail={"reason": reason[:300], "counter_id": counter.id},
    )
    maybe_notify_almost(queue, now=now)
    return CallResult(ticket, repeated=False, reason="out_of_order", detail={"reason": reason})


def _called_ticket(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None,
    action: str,
    refusal: Any,
) -> tuple[Counter, ServiceQueue, Ticket]:
    """Lock the counter and its queue and take its current ticket, which must be called."""
    counter, queue = lock_counter_and_queue(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action=action
    )
    ticket = current_ticket(counter, queue, ticket_id)
    if ticket.status is not TicketStatus.CALLED:
        raise Conflict(refusal, code=ErrorCode.TICKET_NOT_CALLED)
    return counter, queue, ticket


def recall(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """Announce the current ticket again and renew its lease."""
    counter, queue, ticket = _called_ticket(
        actor=actor,
        hospital_id=hospital_id,
        counter_id=counter_id,
        now=now,
        ticket_id=ticket_id,
        action="recall",
        refusal=_l("Only a called ticket can be called again."),
    )
    ticket.call_count += 1
    ticket.called_at = now
    ticket.lease_expires_at = now + timedelta(seconds=queue.lease_seconds)
    add_event(ticket, TicketAction.RECALLED, now=now, actor=actor, counter=counter)
    touch(queue)
    return ticket


def mark_missed(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """The patient did not come: back a few places, or no-show after the queue's limit."""
    counter, queue, ticket = _called_ticket(
        actor=actor,
        hospital_id=hospital_id,
        counter_id=counter_id,
        now=now,
        ticket_id=ticket_id,
        action="mark_missed",
        refusal=_l("Only a called ticket can be marked missed."),
    )
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
    undo_state = {"order_key": ticket.order_key.isoformat()}
    ticket.misses += 1
    ticket.lease_expires_at = None
    ticket.counter_id = None
    if ticket.misses >= queue.max_misses:
        ticket.status = TicketStatus.NO_SHOW
        ticket.finished_at = now
        release_counter(counter, ticket)
        add_event(
            ticket,
            TicketAction.NO_SHOW,
            now=now,
            actor=actor,
            counter=counter,
            undo_state=undo_state,
        )
    else:
        ticket.order_key = ordering.order_key_after_miss(
            same_lane, setback=queue.miss_setback, now=now
        )
        ticket.status = TicketStatus.WAITING
        release_counter(counter, ticket)
        add_event(
            ticket,
            TicketAction.MISSED,
            now=now,
            actor=actor,
            counter=counter,
            undo_state=undo_state,
        )
        if ticket.patient_id:
            patient = db.session.get(Patient, ticket.patient_id)
            if patient is not None:
                notify_ticket(
                    ticket, queue, patient, "queue.missed", f"missed{ticket.misses}", now=now
                )
    db.session.flush()
    touch(queue)
    return ticket
