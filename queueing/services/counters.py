"""Counters: their records, who may work them, their current ticket, and console reads.

Lock order, everywhere, so two operations never deadlock: queue row, then counter row, then
ticket rows; a counter serving several queues locks all of them in id order, then itself. On SQLite writers are serialised by BEGIN IMMEDIATE instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account, Role
from hospital.audit.service import record_staff_read
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, NotFound
from hospital.organisation.models import Hospital, ServicePoint
from hospital.unit_of_work import unit_of_work
from hospital.zones import local_date, zone_for
from queueing.models import CallRule, Counter, CounterQueue, ServiceQueue, Ticket, TicketStatus
from queueing.services.queues import active_service_point, require_may_work


def get_counter(hospital_id: int, counter_id: int, *, lock: bool) -> Counter:
    stmt = sa.select(Counter).where(Counter.id == counter_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    counter = db.session.scalar(stmt) if isinstance(counter_id, int) else None
    if counter is None or counter.hospital_id != hospital_id:
        raise NotFound(_l("No such counter."), code=ErrorCode.COUNTER_NOT_FOUND)
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
    point = active_service_point(hospital_id, service_point_id)
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
            _l("A counter with this code exists already."), code=ErrorCode.COUNTER_EXISTS
        ) from None
    return counter


def counter_for_staff(*, actor: Account, counter_id: int, action: str) -> Counter:
    """A counter of the actor's hospital whose service point the actor's roles work (else 403)."""
    counter = get_counter(actor.hospital_id, counter_id, lock=False)
    point = counter.service_point
    require_may_work(actor=actor, kind=point.kind, service_point_id=point.id, action=action)
    return counter


def audit_console_read(*, actor: Account, view: dict[str, Any], counter_id: int) -> None:
    """Audit that a staff console showed these waiting patients' full names."""
    from queueing.snapshots import console_patients

    record_staff_read(
        actor=actor,
        action="queue.console.read",
        object_type="ticket",
        reads=console_patients(view),
        detail={"counter_id": counter_id},
    )


def live_console_auditor(
    *, actor: Account, first_view: dict[str, Any] | None, counter_id: int
) -> Callable[[dict[str, Any]], None]:
    """For a console's event stream: audit each patient whose full name appears after it opened.

    The first snapshot is audited by the request that opens the stream. Later snapshots are
    sent from the stream, outside any request; each newly named patient is audited then, in a
    unit of work of its own, once per stream.
    """
    from queueing.snapshots import console_patients

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's object
    reader = StaffReader(
        id=actor.id, roles=frozenset(actor.roles), hospital_id=actor.hospital_id, is_staff=True
    )
    seen = set(console_patients(first_view)) if first_view else set()

    def audit(view: dict[str, Any]) -> None:
        new = [read for read in console_patients(view) if read not in seen]
        if not new:
            return
        seen.update(new)
        with app.app_context(), unit_of_work():
            record_staff_read(
                actor=reader,
                action="queue.console.read",
                object_type="ticket",
                reads=new,
                detail={"counter_id": counter_id, "live": True},
            )

    return audit


@dataclass(frozen=True)
class StaffReader:
    """Who reads, as the audit log needs it, without the request's database session."""

    id: int
    roles: frozenset[Role]
    hospital_id: int
    is_staff: bool


# The hot statements are built once: building a statement costs more Python than running it.
_COUNTER_QUEUES = (
    sa.select(
        Hospital.timezone,
        ServiceQueue.id,
        ServiceQueue.service_day,
        ServicePoint.kind,
        ServicePoint.id.label("point_id"),
        sa.select(Ticket.queue_id)
        .where(Ticket.id == Counter.current_ticket_id)
        .scalar_subquery()
        .label("held_in"),
        sa.exists()
        .where(CounterQueue.counter_id == Counter.id)
        .correlate(Counter)
        .label("serves_several"),
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


# The queue of the ticket a counter holds, when it came from another service point's queue.
_HELD_TICKET_QUEUE = (
    sa.select(Ticket.queue_id)
    .join(Counter, Counter.current_ticket_id == Ticket.id)
    .where(Counter.id == sa.bindparam("counter_id"))
)

_LOCK_ANY_QUEUE_AND_COUNTER = (
    sa.select(ServiceQueue, Counter)
    .join(Counter, Counter.hospital_id == ServiceQueue.hospital_id)
    .where(ServiceQueue.id == sa.bindparam("queue_id"), Counter.id == sa.bindparam("counter_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)

# FOR UPDATE without OF locks the rows in FROM order: the queue row, then the counter row.
_LOCK_QUEUE_AND_COUNTER = (
    sa.select(ServiceQueue, Counter)
    .join(Counter, Counter.service_point_id == ServiceQueue.service_point_id)
    .where(ServiceQueue.id == sa.bindparam("queue_id"), Counter.id == sa.bindparam("counter_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_counter_and_queue(
    *, hospital_id: int, counter_id: int, now: datetime, actor: Account | None, action: str
) -> tuple[Counter, ServiceQueue]:
    """Lock today's queue of the counter, then the counter (the lock order everywhere).

    A staff account whose roles do not work the counter's service point is refused first.
    """
    rows = _counter_queue_rows(hospital_id=hospital_id, counter_id=counter_id, now=now)
    return _lock_own_queue(rows, counter_id=counter_id, now=now, actor=actor, action=action)


def lock_for_calling(
    *, hospital_id: int, counter_id: int, now: datetime, actor: Account | None, action: str
) -> tuple[Counter, list[ServiceQueue]]:
    """Lock every queue the counter calls from (one, or several in id order), then the counter.

    The first read tells whether the counter serves several queues, so a one-queue counter
    (the usual case) makes no extra round trip to find out.
    """
    rows = _counter_queue_rows(hospital_id=hospital_id, counter_id=counter_id, now=now)
    if rows[0].serves_several:
        several = lock_counter_and_queues(
            hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action=action
        )
        if several is not None:
            return several
    counter, queue = _lock_own_queue(
        rows, counter_id=counter_id, now=now, actor=actor, action=action
    )
    return counter, [queue]


def _counter_queue_rows(*, hospital_id: int, counter_id: int, now: datetime) -> list[Any]:
    """The hospital's zone, the counter's point and its queues around today (one read)."""
    return counter_rows(_COUNTER_QUEUES, hospital_id=hospital_id, counter_id=counter_id, now=now)


def counter_rows(
    statement: sa.Select[Any], *, hospital_id: int, counter_id: int, now: datetime
) -> list[Any]:
    """Run a read of the counter and its queues around today, before any lock (404: no such
    counter in this hospital). The statement binds counter_id, hospital_id, day_from, day_to."""
    if not isinstance(counter_id, int):
        raise NotFound(_l("No such counter."), code=ErrorCode.COUNTER_NOT_FOUND)
    # A local day is within a day of the UTC one. Each round trip made while the queue row is
    # locked delays every other counter and kiosk of that queue, so this one is made before.
    utc_day = now.astimezone(UTC).date()
    rows = db.session.execute(
        statement,
        {
            "counter_id": counter_id,
            "hospital_id": hospital_id,
            "day_from": utc_day - timedelta(days=1),
            "day_to": utc_day + timedelta(days=1),
        },
    ).all()
    if not rows:
        raise NotFound(_l("No such counter."), code=ErrorCode.COUNTER_NOT_FOUND)
    return list(rows)


def working_day(first: Any, *, actor: Account | None, action: str, now: datetime) -> date:
    """The counter's local day, from a counter_rows row (with timezone, kind, point_id), once
    a staff account whose roles do not work the counter's service point is refused."""
    require_may_work(actor=actor, kind=first.kind, service_point_id=first.point_id, action=action)
    return local_date(now, zone_for(first))


def _lock_own_queue(
    rows: list[Any], *, counter_id: int, now: datetime, actor: Account | None, action: str
) -> tuple[Counter, ServiceQueue]:
    day = working_day(rows[0], actor=actor, action=action, now=now)
    queue_id = next((row[1] for row in rows if row[2] == day), None)
    held_in = rows[0][5]
    if held_in is not None and held_in != queue_id:
        # A counter serving several queues holds a ticket of another one: that queue is locked.
        locked = db.session.execute(
            _LOCK_ANY_QUEUE_AND_COUNTER, {"queue_id": held_in, "counter_id": counter_id}
        ).first()
        if locked is None:
            raise NotFound(_l("No such counter."), code=ErrorCode.COUNTER_NOT_FOUND)
        queue, counter = locked
        if counter.current_ticket_id is not None and (
            db.session.scalar(_HELD_TICKET_QUEUE, {"counter_id": counter_id}) != queue.id
        ):
            raise Conflict(
                _l("This ticket is not at this counter. Reload the console."),
                code=ErrorCode.TICKET_NOT_AT_COUNTER,
            )
        return counter, queue
    if queue_id is None:
        raise Conflict(
            _l("This counter's queue is not open today. Open it first."),
            code=ErrorCode.QUEUE_NOT_OPEN,
        )
    locked = db.session.execute(
        _LOCK_QUEUE_AND_COUNTER, {"queue_id": queue_id, "counter_id": counter_id}
    ).first()
    if locked is None:  # the counter moved to another service point meanwhile
        raise NotFound(_l("No such counter."), code=ErrorCode.COUNTER_NOT_FOUND)
    queue, counter = locked
    return counter, queue


def _todays_queue_ids(
    hospital_id: int, counter_id: int, *, now: datetime
) -> tuple[list[int], bool]:
    """Today's queues a counter calls from, its own first then by position; and whether it has
    further ones at all."""
    hospital = db.session.get_one(Hospital, hospital_id)
    day = local_date(now, zone_for(hospital))
    points = db.session.execute(
        sa.select(CounterQueue.service_point_id, CounterQueue.position)
        .where(CounterQueue.counter_id == counter_id)
        .order_by(CounterQueue.position)
    ).all()
    if not points:
        return [], False
    own = db.session.scalar(sa.select(Counter.service_point_id).where(Counter.id == counter_id))
    order = [own] + [p for p, _pos in points if p != own]
    found: dict[int, int] = {
        point_id: queue_id
        for point_id, queue_id in db.session.execute(
            sa.select(ServiceQueue.service_point_id, ServiceQueue.id).where(
                ServiceQueue.service_point_id.in_(order), ServiceQueue.service_day == day
            )
        ).all()
    }
    return [found[p] for p in order if p in found], True


def lock_counter_and_queues(
    *, hospital_id: int, counter_id: int, now: datetime, actor: Account | None, action: str
) -> tuple[Counter, list[ServiceQueue]] | None:
    """For a counter that serves several queues: lock all of today's, by id (so two such
    counters never deadlock), then the counter; their order is the counter's. None for a
    counter with one queue (lock_counter_and_queue serves it)."""
    if not isinstance(counter_id, int):
        raise NotFound(_l("No such counter."), code=ErrorCode.COUNTER_NOT_FOUND)
    if not db.session.scalar(sa.select(sa.exists().where(CounterQueue.counter_id == counter_id))):
        return None
    counter = get_counter(hospital_id, counter_id, lock=False)
    point = counter.service_point
    require_may_work(actor=actor, kind=point.kind, service_point_id=point.id, action=action)
    queue_ids, _multi = _todays_queue_ids(hospital_id, counter.id, now=now)
    if not queue_ids:
        raise Conflict(
            _l("This counter's queue is not open today. Open it first."),
            code=ErrorCode.QUEUE_NOT_OPEN,
        )
    locked = {
        q.id: q
        for q in db.session.scalars(
            sa.select(ServiceQueue)
            .where(ServiceQueue.id.in_(queue_ids))
            .order_by(ServiceQueue.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    counter = get_counter(hospital_id, counter.id, lock=True)
    return counter, [locked[i] for i in queue_ids if i in locked]


def assign_queues(
    *,
    actor: Account | None,
    hospital_id: int,
    counter_id: int,
    service_point_ids: list[int],
    rule: CallRule,
) -> Counter:
    """Let a counter call from further service points' queues, in this order, by this rule;
    an empty list makes it a one-queue counter again."""
    counter = get_counter(hospital_id, counter_id, lock=True)
    if actor is not None:
        point = counter.service_point
        require_may_work(
            actor=actor, kind=point.kind, service_point_id=point.id, action="assign_queues"
        )
    wanted = [p for p in dict.fromkeys(service_point_ids) if p != counter.service_point_id]
    for point_id in wanted:
        active_service_point(hospital_id, point_id)
    db.session.execute(sa.delete(CounterQueue).where(CounterQueue.counter_id == counter.id))
    for position, point_id in enumerate(wanted, start=1):
        db.session.add(
            CounterQueue(
                hospital_id=hospital_id,
                counter_id=counter.id,
                service_point_id=point_id,
                position=position,
            )
        )
    counter.call_rule = rule
    db.session.flush()
    return counter


def assigned_points(counter_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(CounterQueue.service_point_id)
            .where(CounterQueue.counter_id == counter_id)
            .order_by(CounterQueue.position)
        )
    )


def ticket_in_queue(queue: ServiceQueue, ticket_id: int, *, lock: bool) -> Ticket:
    stmt = sa.select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    ticket = db.session.scalar(stmt) if isinstance(ticket_id, int) else None
    if ticket is None or ticket.queue_id != queue.id:
        raise NotFound(_l("No such ticket in this queue."), code=ErrorCode.TICKET_NOT_FOUND)
    return ticket


def current_ticket(counter: Counter, queue: ServiceQueue, ticket_id: int | None) -> Ticket:
    """The counter's current ticket; ticket_id, when given, must be that ticket."""
    if ticket_id is not None:
        ticket = ticket_in_queue(queue, ticket_id, lock=True)
        if ticket.id != counter.current_ticket_id:
            if ticket.status is TicketStatus.WAITING:
                raise Conflict(
                    _l("This ticket has not been called. Call it first."),
                    code=ErrorCode.TICKET_NOT_CALLED,
                )
            raise Conflict(
                _l("This ticket is not at this counter. Reload the console."),
                code=ErrorCode.TICKET_NOT_AT_COUNTER,
            )
        return ticket
    if counter.current_ticket_id is None:
        raise Conflict(
            _l("No ticket has been called at this counter. Call the next patient first."),
            code=ErrorCode.NO_TICKET_CALLED,
        )
    return db.session.get_one(Ticket, counter.current_ticket_id, with_for_update=True)


def release_counter(counter: Counter, ticket: Ticket) -> None:
    counter.current_ticket_id = None
    db.session.flush()
