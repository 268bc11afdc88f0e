"""Call-next on PostgreSQL: few round trips under the queue lock, and still the right ticket
when the line changed while it waited for that lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.db import db
from hospital.unit_of_work import unit_of_work
from queueing.models import PriorityClass, TicketAction, TicketEvent, TicketStatus
from queueing.services import calling, issuing
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.statements import sent_statements

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("the PostgreSQL path; SQLite keeps the general one (tested everywhere else)")


@pytest.fixture
def point(hospital: Any, create_service_point: Any) -> Any:
    return create_service_point(hospital)


@pytest.fixture
def queue(point: Any) -> Any:
    return qf.open_queue(point, now=NOW)


@pytest.fixture
def counter(point: Any) -> Any:
    return qf.create_counter(point)


def _summary_of(ticket_id: int) -> Any:
    from reports.models import VisitSummary

    return db.session.scalar(sa.select(VisitSummary).where(VisitSummary.ticket_id == ticket_id))


def test_call_next_makes_one_read_then_two_statements(
    hospital: Any, point: Any, queue: Any, counter: Any, postgres_only: None
) -> None:
    for i in range(5):
        qf.walk_in(hospital, point, now=NOW + timedelta(minutes=i))
    db.session.flush()
    with sent_statements() as seen:
        result = calling.call_next(
            actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW
        )
    # The counter's queues (before any lock); lock + line heads + counter; the call with the
    # counter, the queue's event count, the ticket's event and the statistics summary (folded).
    assert len(seen) == 3, seen
    assert "FOR UPDATE" in seen[1] and seen[2].lstrip().startswith("WITH")
    assert "report_visit_summary" in seen[2]
    ticket = result.ticket
    assert ticket is not None and ticket.number == 1 and ticket.status is TicketStatus.CALLED
    summary = _summary_of(ticket.id)
    assert summary.called_at == NOW and summary.counter_id == counter.id
    assert summary.wait_seconds == 0
    db.session.refresh(counter)
    assert counter.current_ticket_id == ticket.id
    event = db.session.scalar(
        sa.select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == TicketAction.CALLED
        )
    )
    assert event is not None and event.counter_id == counter.id
    assert event.detail == result.reason and event.undo_state == {"since": 0}
    # A repeat returns the same ticket and writes nothing.
    with sent_statements() as seen:
        again = calling.call_next(
            actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW
        )
    assert again.repeated and again.ticket is not None and again.ticket.id == ticket.id
    assert not any(s.lstrip().startswith(("UPDATE", "INSERT", "WITH free")) for s in seen)


def test_an_emergency_issued_while_call_next_waits_for_the_lock_is_called(
    app: Any, committed: None, postgres_only: None
) -> None:
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        point = factories.create_service_point(hospital)
        qf.open_queue(point, now=NOW)
        counter = qf.create_counter(point)
        for i in range(3):
            qf.walk_in(hospital, point, now=NOW + timedelta(minutes=i))
        ids = (hospital.id, point.id, counter.id)
    hospital_id, point_id, counter_id = ids
    issued = threading.Event()
    caller_waits = threading.Event()
    found: dict[str, Any] = {}
    errors: list[BaseException] = []

    def kiosk() -> None:
        try:
            with app.app_context():
                with unit_of_work():
                    ticket = issuing.issue_walk_in(
                        actor=None,
                        hospital_id=hospital_id,
                        service_point_id=point_id,
                        now=NOW + timedelta(minutes=5),
                        priority=PriorityClass.EMERGENCY,
                    )
                    found["emergency"] = ticket.id
                    issued.set()  # the queue row is locked until this commits
                    assert caller_waits.wait(60)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
            issued.set()

    def counter_console() -> None:
        try:
            with app.app_context():
                with unit_of_work():
                    result = calling.call_next(
                        actor=None,
                        hospital_id=hospital_id,
                        counter_id=counter_id,
                        now=NOW + timedelta(minutes=6),
                    )
                    found["called"] = result.ticket.id if result.ticket else None
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    first = threading.Thread(target=kiosk)
    first.start()
    assert issued.wait(60)
    second = threading.Thread(target=counter_console)
    second.start()
    # Let the kiosk commit only once call-next is blocked on the queue row's lock.
    with app.app_context():
        engine = db.engine
        for _ in range(100_000):
            with engine.connect() as conn:
                waiting = conn.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )
            if waiting or errors:
                break
        caller_waits.set()
    first.join()
    second.join()
    assert not errors, errors[:3]
    assert waiting, "call-next never waited for the lock"
    assert found["called"] == found["emergency"]


def test_complete_writes_the_ticket_counter_queue_and_event_in_one_statement(
    hospital: Any,
    point: Any,
    queue: Any,
    counter: Any,
    create_account: Any,
    postgres_only: None,
) -> None:
    from hospital.accounts.models import Role
    from queueing.services import serving, undo

    first = qf.walk_in(hospital, point, now=NOW)
    ids = {"hospital_id": hospital.id, "counter_id": counter.id}
    calling.call_next(actor=None, now=NOW, **ids)
    version = queue.version
    with sent_statements() as seen:
        done = serving.complete(actor=None, now=NOW + timedelta(minutes=4), **ids)
    # The counter's queue (before any lock); lock; the one write, with the statistics summary.
    assert len(seen) == 3, seen
    assert seen[2].lstrip().startswith("WITH") and "report_visit_summary" in seen[2]
    assert done.id == first.id and done.status is TicketStatus.DONE
    assert done.started_at == NOW + timedelta(minutes=4) == done.finished_at
    db.session.expire_all()
    assert counter.current_ticket_id is None and queue.version == version + 1
    event = db.session.scalar(
        sa.select(TicketEvent).where(
            TicketEvent.ticket_id == first.id, TicketEvent.action == TicketAction.COMPLETED
        )
    )
    assert event is not None and event.counter_id == counter.id
    assert event.undo_state == {"was_started": False}
    summary = _summary_of(first.id)
    assert summary.completed_at == NOW + timedelta(minutes=4) and summary.service_seconds == 240
    # The undo reads that event: the ticket is called again, not started.
    nurse = create_account(hospital, roles=(Role.NURSE,))
    undo.undo_last(actor=nurse, now=NOW + timedelta(minutes=5), window_seconds=120, **ids)
    db.session.expire_all()
    assert first.status is TicketStatus.CALLED and first.started_at is None


def test_a_walk_in_takes_one_read_then_one_statement(
    hospital: Any,
    point: Any,
    queue: Any,
    create_account: Any,
    create_patient: Any,
    postgres_only: None,
) -> None:
    from hospital.notifications.models import OutboxMessage

    qf.walk_in(hospital, point, now=NOW)
    with sent_statements() as seen:
        ticket = issuing.issue_walk_in(
            actor=None, hospital_id=hospital.id, service_point_id=point.id, now=NOW
        )
    # The point, hospital, today's queue and a ticket id (before any lock); then the number,
    # the ticket, its event and the statistics' row in one statement.
    assert len(seen) == 2, seen
    assert "FOR UPDATE" not in seen[0] and seen[1].lstrip().startswith("WITH")
    assert "report_visit_summary" in seen[1]
    assert ticket.number == 2 and ticket.code == f"{queue.prefix}002"
    assert ticket.status is TicketStatus.WAITING and ticket.order_key == NOW
    db.session.expire_all()
    assert queue.last_number == 2
    event = db.session.scalar(
        sa.select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == TicketAction.ISSUED
        )
    )
    assert event is not None and event.at == NOW
    summary = _summary_of(ticket.id)
    assert summary.checked_in_at == NOW and summary.service_point_id == point.id
    # A patient aged 80 is placed as elderly, told by message, and the visit starts.
    elder = create_patient(
        hospital,
        account=create_account(hospital),
        birth_date=NOW.date().replace(year=NOW.year - 80),
    )
    ticket = issuing.issue_walk_in(
        actor=None,
        hospital_id=hospital.id,
        service_point_id=point.id,
        now=NOW,
        patient_id=elder.id,
    )
    assert ticket.number == 3 and ticket.priority is PriorityClass.ELDERLY
    assert ticket.patient_id == elder.id
    db.session.flush()
    assert db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.patient_id == elder.id)
    )


def test_a_walk_in_to_a_closed_or_missing_queue_is_refused_and_writes_nothing(
    hospital: Any, point: Any, create_service_point: Any, postgres_only: None
) -> None:
    from hospital.errors import Conflict
    from queueing.models import QueueStatus

    other = create_service_point(hospital, room="999")
    with pytest.raises(Conflict) as missing:
        issuing.issue_walk_in(
            actor=None, hospital_id=hospital.id, service_point_id=other.id, now=NOW
        )
    assert missing.value.code == "queue_not_open"
    queue = qf.open_queue(point, now=NOW)
    queue.status = QueueStatus.CLOSED
    db.session.flush()
    with pytest.raises(Conflict) as closed:
        issuing.issue_walk_in(
            actor=None, hospital_id=hospital.id, service_point_id=point.id, now=NOW
        )
    assert closed.value.code == "queue_closed"
    from reports.models import VisitSummary

    assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitSummary)) == 0


def _walk_in_call_complete(hospital: Any, point: Any, counter: Any, *, at: datetime) -> None:
    from queueing.services import serving

    ids = {"hospital_id": hospital.id, "counter_id": counter.id}
    issuing.issue_walk_in(actor=None, hospital_id=hospital.id, service_point_id=point.id, now=at)
    calling.call_next(actor=None, now=at, **ids)
    serving.complete(actor=None, now=at, **ids)


def test_walk_in_call_and_complete_statements_are_compiled_once(
    hospital: Any, point: Any, queue: Any, counter: Any, postgres_only: None
) -> None:
    """A statement without a cache key (a dialect INSERT … ON CONFLICT) is compiled on every
    execution, and so is anything it is folded into: none of these may have one."""
    from sqlalchemy.engine.interfaces import CacheStats

    uncached: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_a: Any):
        if context.cache_hit is CacheStats.NO_CACHE_KEY:
            uncached.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        for minute in range(2):
            _walk_in_call_complete(hospital, point, counter, at=NOW + timedelta(minutes=minute))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert uncached == []


def test_the_statements_a_fold_runs_are_the_same_objects_every_time(
    hospital: Any, point: Any, queue: Any, counter: Any, postgres_only: None
) -> None:
    """A statement built anew per call has its whole cache key walked again, under the queue's
    lock: the walk-in, the call and the completion, with the statistics folded in, are built
    once per shape and reach the connection as the same objects (the ORM's preparation of an
    UPDATE copies it on every execution: the call and the completion load their ticket from a
    SELECT of the statement instead)."""

    executed: list[list[Any]] = [[], []]

    def note(_conn: Any, statement: Any, *_a: Any) -> None:  # as the connection gets it
        inner = getattr(statement, "element", statement)  # a SELECT of the entities from it
        if getattr(inner, "_independent_ctes", None):  # one with folded CTEs
            executed[cycle].append(statement)

    sa.event.listen(db.engine, "before_execute", note)
    try:
        for cycle in range(2):
            _walk_in_call_complete(hospital, point, counter, at=NOW + timedelta(minutes=cycle))
    finally:
        sa.event.remove(db.engine, "before_execute", note)
    assert len(executed[0]) == 3, executed[0]  # the walk-in, the call, the completion
    assert [id(c) for c in executed[0]] == [id(c) for c in executed[1]], [
        (type(a).__name__, a is b) for a, b in zip(*executed, strict=True)
    ]
