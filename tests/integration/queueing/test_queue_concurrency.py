"""Invariants 4 and 5 under real concurrency on PostgreSQL (SQLite serialises writers)."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hospital.db import db
from hospital.unit_of_work import unit_of_work
from queueing.models import Ticket, TicketAction, TicketEvent, TicketStatus
from queueing.services import calling, issuing, serving
from tests.support import factories
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def postgres_only(backend):
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL; SQLite serialises writers")


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_twenty_kiosks_issue_2000_tickets_without_duplicates_or_gaps(app, committed, postgres_only):
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        points = [factories.create_service_point(hospital) for _ in range(3)]
        for point in points:
            qf.open_queue(point, now=NOW)
        ids = (hospital.id, [p.id for p in points])
    hospital_id, point_ids = ids
    errors: list[BaseException] = []

    def kiosk(k: int) -> None:
        try:
            with app.app_context():
                for i in range(100):
                    with unit_of_work():
                        issuing.issue_walk_in(
                            actor=None,
                            hospital_id=hospital_id,
                            service_point_id=point_ids[(k + i) % 3],
                            now=NOW + timedelta(seconds=i),
                        )
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    _run([threading.Thread(target=kiosk, args=(k,)) for k in range(20)])
    assert not errors, errors[:3]
    with app.app_context():
        rows = db.session.execute(sa.select(Ticket.queue_id, Ticket.number)).all()
        by_queue: dict[int, list[int]] = {}
        for queue_id, number in rows:
            by_queue.setdefault(queue_id, []).append(number)
        assert sum(len(v) for v in by_queue.values()) == 2000
        for numbers in by_queue.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_two_counters_calling_at_once_never_share_or_skip_a_ticket(app, committed, postgres_only):
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        point = factories.create_service_point(hospital)
        qf.open_queue(point, now=NOW)
        counters = [qf.create_counter(point, code=str(n)) for n in (1, 2)]
        for i in range(150):
            qf.walk_in(hospital, point, now=NOW + timedelta(seconds=i))
        hospital_id, counter_ids = hospital.id, [c.id for c in counters]
    errors: list[BaseException] = []
    served: dict[int, list[int]] = {cid: [] for cid in counter_ids}
    barrier = threading.Barrier(2)

    def desk(counter_id: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                while True:
                    with unit_of_work():
                        result = calling.call_next(
                            actor=None, hospital_id=hospital_id, counter_id=counter_id, now=NOW
                        )
                    if result.ticket is None:
                        break
                    ticket_id = result.ticket.id
                    with unit_of_work():  # a double-click: the same ticket, never a second one
                        again = calling.call_next(
                            actor=None, hospital_id=hospital_id, counter_id=counter_id, now=NOW
                        )
                        assert again.repeated and again.ticket.id == ticket_id
                    with unit_of_work():
                        serving.complete(
                            actor=None, hospital_id=hospital_id, counter_id=counter_id, now=NOW
                        )
                    served[counter_id].append(ticket_id)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    _run([threading.Thread(target=desk, args=(cid,)) for cid in counter_ids])
    assert not errors, errors[:3]
    every = served[counter_ids[0]] + served[counter_ids[1]]
    assert len(every) == 150 and len(set(every)) == 150
    assert served[counter_ids[0]] and served[counter_ids[1]]
    with app.app_context():
        calls = Tally(
            db.session.scalars(
                sa.select(TicketEvent.ticket_id).where(TicketEvent.action == TicketAction.CALLED)
            ).all()
        )
        assert set(calls.values()) == {1}
        statuses = set(db.session.scalars(sa.select(Ticket.status)).all())
        assert statuses == {TicketStatus.DONE}
