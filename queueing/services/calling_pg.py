"""Call-next on PostgreSQL in two statements and the commit while the queue rows are locked.

The general path (`calling.call_next`, which SQLite uses) locks the queue rows, reads the line,
then writes the ticket, the counter, the queue's version, the event and the statistics one
statement at a time: eight round trips with the queue locked, and every other counter and kiosk
of that queue waits behind them. Here:

1. before any lock, one read finds the counter's queues of today (as the general path does,
   through `counters.counter_rows`);
2. one statement locks them (in id order, the lock order everywhere) and, in the same
   statement, reads the heads of their lines (`line.heads_statement`, the general path's) and
   the counter. READ COMMITTED gives a statement one snapshot, taken before it waited for the
   lock, so the statement also reads each queue's version as the snapshot saw it: every change
   to a queue's tickets bumps that version in the same transaction, so an unchanged version
   proves the heads current; a changed one (somebody held the lock meanwhile) costs one more
   read, now under the lock;
3. the ordering (pure Python, `queueing.ordering`, unchanged) picks the ticket;
4. a first call tells the statistics, whose receiver folds its one UPDATE into the next
   statement (hospital.events, "Folding");
5. one statement calls the ticket, gives it to the counter (only if the counter is still free
   and not paused), counts the queue's event with its ratio state, appends the ticket's event
   and updates the statistics' row;
6. then the commit.

Anything unusual (a called ticket whose lease ran out, a held ticket of another day's queue, no
queue open) returns None and the caller takes the general path, which handles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from hospital import events
from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict
from hospital.organisation.models import Hospital, ServicePoint
from hospital.patients.models import Patient
from queueing import ordering
from queueing.live import queue_changed
from queueing.models import (
    CallRule,
    Counter,
    CounterQueue,
    PriorityClass,
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketEvent,
    TicketStatus,
)
from queueing.services.counters import counter_rows, working_day
from queueing.services.folding import with_folded
from queueing.services.line import InLine, heads_statement, in_line
from queueing.services.notify import maybe_notify_almost, notify_ticket

if TYPE_CHECKING:
    from queueing.services.calling import CallResult

_IDS = sa.bindparam("queue_ids", type_=postgresql.ARRAY(sa.Integer()))

# 1. Before any lock: the hospital's zone, the counter, its point and every queue it calls from
# around today (its own point's and its further points', with their positions).
_SETUP = (
    sa.select(
        Hospital.timezone,
        ServicePoint.kind,
        ServicePoint.id.label("point_id"),
        Counter.code,
        Counter.call_rule,
        sa.select(Ticket.queue_id)
        .where(Ticket.id == Counter.current_ticket_id)
        .scalar_subquery()
        .label("held_in"),
        ServiceQueue.id.label("queue_id"),
        ServiceQueue.service_day,
        ServiceQueue.service_point_id.label("queue_point_id"),
        sa.select(CounterQueue.position)
        .where(
            CounterQueue.counter_id == Counter.id,
            CounterQueue.service_point_id == ServiceQueue.service_point_id,
        )
        .scalar_subquery()
        .label("position"),
    )
    .select_from(Counter)
    .join(Hospital, Hospital.id == Counter.hospital_id)
    .join(ServicePoint, ServicePoint.id == Counter.service_point_id)
    .outerjoin(
        ServiceQueue,
        sa.and_(
            sa.or_(
                ServiceQueue.service_point_id == Counter.service_point_id,
                ServiceQueue.service_point_id.in_(
                    sa.select(CounterQueue.service_point_id)
                    .where(CounterQueue.counter_id == Counter.id)
                    .scalar_subquery()
                ),
            ),
            ServiceQueue.service_day.between(sa.bindparam("day_from"), sa.bindparam("day_to")),
        ),
    )
    .where(
        Counter.id == sa.bindparam("counter_id"), Counter.hospital_id == sa.bindparam("hospital_id")
    )
)


def _lock_and_read_statement() -> sa.Select[Any]:
    locked = (
        sa.select(
            ServiceQueue.id,
            ServiceQueue.version,
            ServiceQueue.regular_since_priority,
            ServiceQueue.priority_ratio,
            ServiceQueue.ageing_minutes,
            ServiceQueue.lease_seconds,
        )
        .where(ServiceQueue.id == sa.any_(_IDS))
        .order_by(ServiceQueue.id)
        .with_for_update()
        .cte("locked")
    )
    heads = heads_statement(Ticket.queue_id == sa.any_(_IDS)).cte("heads")
    seen = aliased(ServiceQueue, name="seen")
    held = aliased(Ticket, name="held")
    return (
        sa.select(
            locked.c.id.label("q_id"),
            locked.c.version.label("q_version"),
            seen.version.label("seen_version"),
            locked.c.regular_since_priority.label("q_since"),
            locked.c.priority_ratio.label("q_ratio"),
            locked.c.ageing_minutes.label("q_ageing"),
            locked.c.lease_seconds.label("q_lease"),
            Counter.current_ticket_id.label("c_current"),
            Counter.is_paused.label("c_paused"),
            held.status.label("held_status"),
            heads.c.id,
            heads.c.number,
            heads.c.priority,
            heads.c.order_key,
            heads.c.arrived_at,
            heads.c.slot_start,
            heads.c.misses,
            heads.c.patient_id,
            heads.c.notify_ahead,
            heads.c.status,
            heads.c.call_count,
        )
        .select_from(locked)
        .join(seen, seen.id == locked.c.id)
        .join(Counter, Counter.id == sa.bindparam("counter_id"))
        .outerjoin(held, held.id == Counter.current_ticket_id)
        .outerjoin(heads, heads.c.queue_id == locked.c.id)
    )


# 2. Lock the queues (id order) and read their heads and the counter, in one statement.
_LOCK_AND_READ = _lock_and_read_statement()


def _call_statement() -> Any:
    counter = (
        sa.update(Counter)
        .where(
            Counter.id == sa.bindparam("b_counter_id"),
            # Free, or still holding the finished ticket it was read with (as the general path).
            sa.or_(
                Counter.current_ticket_id.is_(None),
                Counter.current_ticket_id == sa.bindparam("b_seen_current", type_=sa.Integer()),
            ),
            Counter.is_paused.is_(False),
        )
        .values(current_ticket_id=sa.bindparam("b_ticket_id"))
        .returning(Counter.current_ticket_id)
        .cte("free_counter")
    )
    queue = (
        sa.update(ServiceQueue)
        .where(ServiceQueue.id == sa.bindparam("b_queue_id"))
        .values(
            version=ServiceQueue.version + 1,
            regular_since_priority=sa.bindparam("b_since", type_=sa.Integer()),
        )
        .returning(ServiceQueue.id, ServiceQueue.version)
        .cte("counted")
    )
    event = (
        sa.insert(TicketEvent)
        .values(
            hospital_id=sa.bindparam("b_hospital_id"),
            ticket_id=sa.bindparam("b_ticket_id"),
            action=TicketAction.CALLED,
            counter_id=sa.bindparam("b_counter_id"),
            actor_account_id=sa.bindparam("b_actor_id", type_=sa.Integer()),
            at=sa.bindparam("b_at", type_=TicketEvent.at.type),
            detail=sa.bindparam("b_detail", type_=sa.String()),
            undo_state=sa.bindparam("b_undo_state", type_=TicketEvent.undo_state.type),
        )
        .returning(TicketEvent.id)
        .cte("event")
    )
    return (
        sa.update(Ticket)
        .add_cte(counter)
        .add_cte(queue)
        .add_cte(event)
        .where(
            Ticket.id == sa.bindparam("b_ticket_id"),
            Ticket.status == TicketStatus.WAITING,
            # Joined to both: no row (nothing called) unless the counter was free.
            counter.c.current_ticket_id == Ticket.id,
            queue.c.id == Ticket.queue_id,
        )
        .values(
            status=TicketStatus.CALLED,
            counter_id=sa.bindparam("b_counter_id"),
            called_at=sa.bindparam("b_at", type_=Ticket.called_at.type),
            call_count=Ticket.call_count + 1,
            lease_expires_at=sa.bindparam("b_lease_until", type_=Ticket.lease_expires_at.type),
        )
        .returning(Ticket, queue.c.version)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


# 4. Call the ticket, take the counter, count the queue's event, append the ticket's event.
_CALL = _call_statement()
# Loaded as the ticket and the queue's new version (queueing.services.folding.with_folded).
_CALL_LOADS = (Ticket, _CALL.exported_columns["version"])


@dataclass(frozen=True)
class _Queue:
    """A locked queue as call-next needs it."""

    id: int
    regular_since_priority: int
    policy: ordering.Policy
    lease_seconds: int


def _queues_of_today(
    *, actor: Account | None, hospital_id: int, counter_id: int, now: datetime
) -> tuple[list[int], Any] | None:
    """Today's queue ids the counter calls from (its own first, then by position), and the
    setup row; None when the general path must decide (nothing open, a held ticket elsewhere)."""
    rows = counter_rows(_SETUP, hospital_id=hospital_id, counter_id=counter_id, now=now)
    first = rows[0]
    day = working_day(first, actor=actor, action="call_next", now=now)
    today = [row for row in rows if row.queue_id is not None and row.service_day == day]
    own = [row.queue_id for row in today if row.queue_point_id == first.point_id]
    further = sorted(
        (row for row in today if row.queue_point_id != first.point_id and row.position),
        key=lambda row: row.position,
    )
    queue_ids = own + [row.queue_id for row in further]
    if not queue_ids or (first.held_in is not None and first.held_in not in queue_ids):
        return None
    return queue_ids, first


def call_next(
    *, actor: Account | None, hospital_id: int, counter_id: int, now: datetime
) -> CallResult | None:
    """Call-next as `calling.call_next` does it, in fewer round trips; None: take that path."""
    from queueing.services.calling import CallResult, choose_next, since_after_call

    found = _queues_of_today(actor=actor, hospital_id=hospital_id, counter_id=counter_id, now=now)
    if found is None:
        return None
    queue_ids, setup = found
    params = {"queue_ids": sorted(queue_ids), "counter_id": counter_id, "now": now}
    rows = db.session.execute(_LOCK_AND_READ, params).all()
    if any(row.q_version != row.seen_version for row in rows):
        # Somebody changed a queue while this waited for its lock: read again, now locked.
        rows = db.session.execute(_LOCK_AND_READ, params).all()
    if len({row.q_id for row in rows}) != len(queue_ids):  # a queue vanished: let it decide
        return None
    if any(row.status == TicketStatus.CALLED for row in rows):
        return None  # a called ticket's lease ran out: the general path puts it back first
    first = rows[0]
    if first.c_current is not None and first.held_status in (
        TicketStatus.CALLED,
        TicketStatus.SERVING,
    ):
        return CallResult(db.session.get_one(Ticket, first.c_current), repeated=True)
    if first.c_paused:
        raise Conflict(
            _l("This counter is paused. Resume it before calling."), code=ErrorCode.COUNTER_PAUSED
        )
    queues: dict[int, _Queue] = {}
    lines: dict[int, list[InLine]] = {queue_id: [] for queue_id in queue_ids}
    first_calls: dict[int, bool] = {}
    for row in rows:
        queues.setdefault(
            row.q_id,
            _Queue(
                id=row.q_id,
                regular_since_priority=row.q_since,
                policy=ordering.Policy(
                    priority_ratio=row.q_ratio, ageing=timedelta(minutes=row.q_ageing)
                ),
                lease_seconds=row.q_lease,
            ),
        )
        if row.id is not None:
            lines[row.q_id].append(in_line(row))
            first_calls[row.id] = row.call_count == 0
    ordered = [(queues[q], lines[q]) for q in queue_ids]
    chosen = choose_next(
        [(queue.policy, queue.regular_since_priority, line) for queue, line in ordered],
        rule=CallRule(setup.call_rule),
        now=now,
    )
    if chosen is None:
        return CallResult(None, repeated=False)
    index, placement = chosen
    queue, line = ordered[index]
    since_before = queue.regular_since_priority
    priority = PriorityClass(placement.ticket.priority)
    folded: list[Any] = []
    if first_calls[placement.ticket.id]:
        # Only the first call ends the wait; a call after a miss or a lapsed lease does not.
        # Sent before the call so that the statistics' update runs inside it (one round trip):
        # if the call fails, the transaction rolls back with it.
        events.ticket_first_called.send(
            "queueing",
            ticket_id=placement.ticket.id,
            hospital_id=hospital_id,
            now=now,
            counter_id=counter_id,
            counter_code=setup.code,
            counter_point_id=setup.point_id,
            account_id=actor.id if actor is not None else None,
            fold=folded,
        )
    folded_statement, folded_params = with_folded(_CALL, folded, load=_CALL_LOADS)
    called = db.session.execute(
        folded_statement,
        {
            **folded_params,
            "b_ticket_id": placement.ticket.id,
            "b_counter_id": counter_id,
            "b_queue_id": queue.id,
            "b_hospital_id": hospital_id,
            "b_since": since_after_call(since_before, priority),
            "b_actor_id": actor.id if actor is not None else None,
            "b_at": now,
            "b_lease_until": now + timedelta(seconds=queue.lease_seconds),
            "b_detail": placement.reason[:300],
            "b_undo_state": {"since": since_before},
            "b_seen_current": first.c_current,
        },
    ).first()
    if called is None:
        # The counter was taken or paused by someone who does not hold these queues' locks.
        raise Conflict(
            _l("This counter changed meanwhile. Reload the console and call again."),
            code=ErrorCode.COUNTER_BUSY,
        )
    ticket, version = called
    # Written in SQL: a counter or queue the session holds (a test's, a caller's) must reload.
    for model, key in ((Counter, counter_id), (ServiceQueue, queue.id)):
        held_obj = db.session.identity_map.get(db.session.identity_key(model, key))
        if held_obj is not None:
            db.session.expire(held_obj)
    queue_changed(queue.id, version)
    rest = [t for t in line if t.waiting.id != ticket.id]
    if ticket.patient_id or any(t.patient_id for t in rest):
        # Patients to tell: the queue and its service point, as the messages need them.
        service_queue = db.session.get_one(ServiceQueue, queue.id)
        if ticket.patient_id:
            patient = db.session.get(Patient, ticket.patient_id)
            if patient is not None:
                notify_ticket(ticket, service_queue, patient, "queue.your_turn", "turn", now=now)
        maybe_notify_almost(service_queue, now=now, line=rest)
    return CallResult(ticket, repeated=False, reason=placement.reason, detail=placement.detail)
