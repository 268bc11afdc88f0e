"""Serve the called ticket: start, complete, transfer to another queue; pause a counter."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from hospital import events
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput
from hospital.patients.models import Patient
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
from queueing.services import surveys
from queueing.services.counters import (
    current_ticket,
    get_counter,
    lock_counter_and_queue,
    release_counter,
)
from queueing.services.folding import with_folded
from queueing.services.issuing import issue
from queueing.services.queues import (
    active_service_point,
    add_event,
    find_queue,
    locked_queue,
    touch,
)


def start(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """The patient arrived at the counter: start serving (the lease no longer applies)."""
    counter, queue = lock_counter_and_queue(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action="start"
    )
    ticket = current_ticket(counter, queue, ticket_id)
    if ticket.status is TicketStatus.SERVING:
        return ticket
    ticket.status = TicketStatus.SERVING
    ticket.started_at = now
    ticket.lease_expires_at = None
    add_event(ticket, TicketAction.STARTED, now=now, actor=actor, counter=counter)
    events.ticket_serving_started.send(
        "queueing", ticket_id=ticket.id, hospital_id=ticket.hospital_id, now=now
    )
    touch(queue)
    return ticket


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


def _finish_and_free_statement() -> Any:
    """PostgreSQL: finish the counter's ticket, free the counter, count the queue's event and
    append the ticket's event, in one statement (the queue row is locked already)."""
    at = sa.bindparam("b_at", type_=Ticket.finished_at.type)
    freed = (
        sa.update(Counter)
        .where(
            Counter.id == sa.bindparam("b_counter_id"),
            Counter.current_ticket_id == sa.bindparam("b_ticket_id"),
        )
        .values(current_ticket_id=None)
        .returning(Counter.id)
        .cte("freed")
    )
    counted = (
        sa.update(ServiceQueue)
        .where(ServiceQueue.id == sa.bindparam("b_queue_id"))
        .values(version=ServiceQueue.version + 1)
        .returning(ServiceQueue.id, ServiceQueue.version)
        .cte("counted")
    )
    before = aliased(Ticket, name="before")  # every part of the statement sees the row as it was
    event = (
        sa.insert(TicketEvent)
        .from_select(
            [
                "hospital_id",
                "ticket_id",
                "action",
                "counter_id",
                "actor_account_id",
                "at",
                "detail",
                "undo_state",
            ],
            sa.select(
                before.hospital_id,
                before.id,
                sa.literal(TicketAction.COMPLETED, TicketEvent.action.type),
                sa.bindparam("b_counter_id", type_=sa.Integer()),
                sa.bindparam("b_actor_id", type_=sa.Integer()),
                sa.bindparam("b_at", type_=TicketEvent.at.type),
                sa.literal(""),
                # Completing a called ticket starts it now too: undo puts back whether it had.
                sa.func.json_build_object(
                    "was_started",
                    sa.and_(before.started_at.is_not(None), before.started_at != at),
                    type_=TicketEvent.undo_state.type,
                ),
            ).where(before.id == sa.bindparam("b_ticket_id")),
        )
        .returning(TicketEvent.id)
        .cte("event")
    )
    return (
        sa.update(Ticket)
        .add_cte(freed)
        .add_cte(counted)
        .add_cte(event)
        .where(
            Ticket.id == sa.bindparam("b_ticket_id"),
            Ticket.queue_id == counted.c.id,
            Ticket.counter_id == freed.c.id,
        )
        .values(
            status=TicketStatus.DONE,
            started_at=sa.func.coalesce(Ticket.started_at, at),
            finished_at=at,
            lease_expires_at=None,
        )
        .returning(Ticket, counted.c.version)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


_FINISH_AND_FREE = _finish_and_free_statement()
# Loaded as the ticket and the queue's new version (queueing.services.folding.with_folded).
_FINISH_AND_FREE_LOADS = (Ticket, _FINISH_AND_FREE.exported_columns["version"])


def complete(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    now: datetime,
    ticket_id: int | None = None,
) -> Ticket:
    """Finish serving the current ticket; a transfer's return leg is issued now."""
    counter, queue = lock_counter_and_queue(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action="complete"
    )
    ticket = None
    if (
        counter.current_ticket_id is not None
        and ticket_id in (None, counter.current_ticket_id)
        and db.session.get_bind().dialect.name == "postgresql"
    ):
        # Sent first so that the statistics' update runs inside the statement (hospital.events,
        # "Folding"); should the statement finish nothing, the path below sends it again.
        folded: list[Any] = []
        events.ticket_completed.send(
            "queueing",
            ticket_id=counter.current_ticket_id,
            hospital_id=hospital_id,
            now=now,
            fold=folded,
        )
        folded_statement, folded_params = with_folded(
            _FINISH_AND_FREE, folded, load=_FINISH_AND_FREE_LOADS
        )
        finished = db.session.execute(
            folded_statement,
            {
                **folded_params,
                "b_ticket_id": counter.current_ticket_id,
                "b_counter_id": counter.id,
                "b_queue_id": queue.id,
                "b_actor_id": actor.id if actor is not None else None,
                "b_at": now,
            },
        ).first()
        if finished is not None:
            done: Ticket = finished[0]
            version: int = finished[1]
            set_committed_value(counter, "current_ticket_id", None)
            set_committed_value(queue, "version", version)
            queue_changed(queue.id, version)
            _after_completion(hospital_id, done, queue, actor=actor, now=now)
            return done
    if counter.current_ticket_id is not None and ticket_id in (None, counter.current_ticket_id):
        # The counter's own ticket (the usual case): read and finish it in one statement.
        ticket = db.session.scalar(
            _FINISH_CURRENT,
            {"the_ticket": counter.current_ticket_id, "in_queue": queue.id, "at": now},
        )
    if ticket is None:
        ticket = current_ticket(counter, queue, ticket_id)
        if ticket.started_at is None:
            ticket.started_at = now
        ticket.status = TicketStatus.DONE
        ticket.finished_at = now
        ticket.lease_expires_at = None
    release_counter(counter, ticket)
    add_event(
        ticket,
        TicketAction.COMPLETED,
        now=now,
        actor=actor,
        counter=counter,
        # Completing a called ticket starts it now too: undo puts back whether it had started.
        undo_state={"was_started": ticket.started_at != now},
    )
    events.ticket_completed.send(
        "queueing", ticket_id=ticket.id, hospital_id=ticket.hospital_id, now=now
    )
    touch(queue)
    _after_completion(hospital_id, ticket, queue, actor=actor, now=now)
    return ticket


def _after_completion(
    hospital_id: int, ticket: Ticket, queue: ServiceQueue, *, actor: Account | None, now: datetime
) -> None:
    """The visit goes on: the appointment completes, the survey is offered, a return leg issued."""
    if ticket.appointment_id is not None:
        _complete_appointment(hospital_id, ticket.appointment_id, actor=actor, now=now)
    if ticket.patient_id is not None:
        surveys.offer_after_consultation(ticket, queue, queue.service_point, now=now)
    if ticket.return_queue_id is not None:
        back = locked_queue(hospital_id, ticket.return_queue_id)
        if back.status is QueueStatus.OPEN:
            patient = db.session.get(Patient, ticket.patient_id) if ticket.patient_id else None
            issue(
                queue=back,
                patient=patient,
                kind=TicketKind.TRANSFER,
                priority=PriorityClass.RETURNING,
                now=now,
                actor=actor,
                transferred_from_id=ticket.id,
            )


def _complete_appointment(
    hospital_id: int, appointment_id: int, *, actor: Account | None, now: datetime
) -> None:
    """The consultation is over: scheduling marks the checked-in appointment completed."""
    from scheduling.services import changes
    from scheduling.services.queries import AppointmentState, appointment_of_hospital

    appointment = appointment_of_hospital(hospital_id, appointment_id)
    if appointment is not None and appointment.state is AppointmentState.CHECKED_IN:
        changes.complete(appointment_id, actor=actor, now=now)


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
    counter, queue = lock_counter_and_queue(
        hospital_id=hospital_id, counter_id=counter_id, now=now, actor=actor, action="transfer"
    )
    ticket = current_ticket(counter, queue, ticket_id)
    point = active_service_point(hospital_id, to_service_point_id)
    target = find_queue(point, queue.service_day)
    if target is None or target.status is not QueueStatus.OPEN:
        raise Conflict(
            _l("That queue is closed today. Choose another service point."),
            code=ErrorCode.QUEUE_CLOSED,
        )
    if target.id == queue.id:
        raise InvalidInput(
            _l("Choose a different service point to transfer to."), code=ErrorCode.SAME_QUEUE
        )
    undo_state = {
        "status": ticket.status.value,
        "lease_expires_at": ticket.lease_expires_at.isoformat()
        if ticket.lease_expires_at
        else None,
        "to_queue_id": target.id,
    }
    ticket.status = TicketStatus.TRANSFERRED
    ticket.finished_at = now
    ticket.lease_expires_at = None
    release_counter(counter, ticket)
    add_event(
        ticket,
        TicketAction.TRANSFERRED,
        now=now,
        actor=actor,
        counter=counter,
        detail=f"to queue {target.id}",
        undo_state=undo_state,
    )
    touch(queue)
    patient = db.session.get(Patient, ticket.patient_id) if ticket.patient_id else None
    target = locked_queue(hospital_id, target.id)
    return issue(
        queue=target,
        patient=patient,
        kind=TicketKind.TRANSFER,
        priority=ticket.priority,
        now=now,
        actor=actor,
        transferred_from_id=ticket.id,
        return_queue_id=queue.id if come_back else None,
    )


MAX_PAUSE_MINUTES = 480


def set_paused(
    *,
    actor: Account,
    hospital_id: int,
    counter_id: int,
    paused: bool,
    now: datetime,
    reason: str = "",
    minutes: int | None = None,
) -> Counter:
    """Pause (saying why and for how long) or resume a counter; a paused counter cannot call.

    The board shows when the counter said it would be back, and the wait estimates count it
    from then.
    """
    reason = (reason or "").strip()
    if paused and len(reason) < 2:
        raise InvalidInput(
            _l("Say why the counter pauses (at least 2 characters)."),
            code=ErrorCode.REASON_REQUIRED,
        )
    if paused and (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or not 1 <= minutes <= MAX_PAUSE_MINUTES
    ):
        raise InvalidInput(
            _l("Say for how many minutes the counter pauses (1 to 480)."),
            code=ErrorCode.PAUSE_LENGTH_REQUIRED,
        )
    # The queue row first, as everywhere: locking the counter first could deadlock a call.
    queue: ServiceQueue | None
    try:
        counter, queue = lock_counter_and_queue(
            hospital_id=hospital_id,
            counter_id=counter_id,
            now=now,
            actor=actor,
            action="set_paused",
        )
    except Conflict:  # no queue today: only the counter to lock
        counter, queue = get_counter(hospital_id, counter_id, lock=True), None
    was_paused = counter.is_paused
    counter.is_paused = paused
    counter.paused_at = now if paused else None
    counter.pause_reason = reason[:200] if paused else ""
    counter.paused_until = now + timedelta(minutes=minutes) if paused and minutes else None
    if queue is not None:
        touch(queue)
    if was_paused != paused:
        events.counter_pause_changed.send(
            "queueing",
            hospital_id=counter.hospital_id,
            counter_id=counter.id,
            counter_code=counter.code,
            counter_point_id=counter.service_point_id,
            account_id=actor.id if actor is not None else None,
            paused=paused,
            now=now,
        )
    record(
        action="queue.counter_paused" if paused else "queue.counter_resumed",
        actor=actor,
        object_type="queue_counter",
        object_id=str(counter.id),
        detail={"reason": counter.pause_reason, "minutes": minutes} if paused else None,
    )
    return counter
