"""Counters that serve several queues: call-next across them by a rule, each queue's own order
kept; the board says which counter calls which number; no deadlock or double call under load."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.db import db
from hospital.unit_of_work import unit_of_work
from queueing.models import CallRule, PriorityClass, Ticket, TicketStatus
from queueing.services import calling, counters, serving
from queueing.snapshots import board_view, load_state
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def points(hospital, create_service_point):
    a = create_service_point(hospital, room="101")
    b = create_service_point(hospital, room="202")
    qa, qb = qf.open_queue(a, now=NOW), qf.open_queue(b, now=NOW)
    return a, b, qa, qb


def _call(hospital, counter, now=NOW):
    return calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=now)


def _done(hospital, counter, now=NOW):
    serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=now)


def _counter_calling_both(hospital, a, b, rule):
    """A counter of room a that also calls room b's queue, by the given rule."""
    counter = qf.create_counter(a)
    counters.assign_queues(
        actor=None,
        hospital_id=hospital.id,
        counter_id=counter.id,
        service_point_ids=[b.id],
        rule=rule,
    )
    return counter


def test_longest_wait_first_across_the_counters_queues(hospital, points):
    a, b, qa, qb = points
    counter = _counter_calling_both(hospital, a, b, CallRule.LONGEST_WAIT)
    from_b = qf.walk_in(hospital, b, now=NOW - timedelta(minutes=10))
    from_a = qf.walk_in(hospital, a, now=NOW - timedelta(minutes=5))
    first = _call(hospital, counter)
    assert first.ticket.id == from_b.id and first.ticket.counter_id == counter.id
    assert _call(hospital, counter).repeated  # a repeat returns the same ticket (invariant 5)
    # The ticket from the other queue is served at this counter like its own.
    serving.start(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    board = board_view([load_state(qb.id, now=NOW)])
    (call,) = board["calls"]
    assert (call["code"], call["counter"], call["room"]) == (from_b.code, counter.code, "101")
    _done(hospital, counter)
    assert from_b.status is TicketStatus.DONE
    assert _call(hospital, counter).ticket.id == from_a.id


def test_priority_order_serves_the_counters_own_queue_first(hospital, points):
    a, b, qa, qb = points
    counter = _counter_calling_both(hospital, a, b, CallRule.PRIORITY_ORDER)
    from_b = qf.walk_in(hospital, b, now=NOW - timedelta(minutes=30))
    from_a = qf.walk_in(hospital, a, now=NOW)
    assert _call(hospital, counter).ticket.id == from_a.id
    _done(hospital, counter)
    assert _call(hospital, counter).ticket.id == from_b.id


def test_each_queue_keeps_its_own_order_when_called_from_elsewhere(hospital, points):
    a, b, qa, qb = points
    counter = _counter_calling_both(hospital, a, b, CallRule.LONGEST_WAIT)
    early = qf.walk_in(hospital, b, now=NOW - timedelta(minutes=20))
    emergency = qf.walk_in(
        hospital, b, now=NOW - timedelta(minutes=1), priority=PriorityClass.EMERGENCY
    )
    # Queue B's own policy puts the emergency first, so the counter calls it, not the early one.
    assert _call(hospital, counter).ticket.id == emergency.id
    _done(hospital, counter)
    assert _call(hospital, counter).ticket.id == early.id


def test_assigning_queues_through_the_api(client, hospital, points, create_account):
    a, b, _qa, _qb = points
    counter = qf.create_counter(a)
    sign_in(client, create_account(hospital, roles=(Role.NURSE,)))
    url = f"/api/v1/queueing/counters/{counter.id}/queues"
    r = client.put(url, json={"service_point_ids": [b.id, a.id], "rule": "priority_order"})
    assert r.status_code == 200
    assert r.get_json() == {
        "counter_id": counter.id,
        "rule": "priority_order",
        "service_point_ids": [b.id],
    }
    assert client.put(url, json={"service_point_ids": [b.id], "rule": "random"}).status_code == 422
    assert client.put(url, json={"service_point_ids": [987654]}).status_code == 404


@pytest.fixture
def postgres_only(backend):
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL; SQLite serialises writers")


def test_cross_serving_counters_calling_at_once_never_share_or_skip_a_ticket(
    app, committed, postgres_only
):
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        a = factories.create_service_point(hospital)
        b = factories.create_service_point(hospital)
        qf.open_queue(a, now=NOW)
        qf.open_queue(b, now=NOW)
        # Two counters at each point; each serves the other point's queue too, so their queue
        # locks overlap in both directions (the deadlock a fixed lock order prevents).
        staff = []
        for point, other in ((a, b), (b, a)):
            for code in ("1", "2"):
                counter = qf.create_counter(point, code=code)
                counters.assign_queues(
                    actor=None,
                    hospital_id=hospital.id,
                    counter_id=counter.id,
                    service_point_ids=[other.id],
                    rule=CallRule.LONGEST_WAIT,
                )
                staff.append(counter.id)
        for i in range(60):
            qf.walk_in(hospital, a if i % 2 else b, now=NOW + timedelta(seconds=i))
        hospital_id = hospital.id
    called: list[int] = []
    errors: list[BaseException] = []

    def work(counter_id: int) -> None:
        try:
            with app.app_context():
                for step in range(40):
                    now = NOW + timedelta(minutes=5, seconds=step)
                    with unit_of_work():
                        result = calling.call_next(
                            actor=None, hospital_id=hospital_id, counter_id=counter_id, now=now
                        )
                        if result.ticket is None:
                            break
                        called.append(result.ticket.id)
                        serving.complete(
                            actor=None, hospital_id=hospital_id, counter_id=counter_id, now=now
                        )
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in staff]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(called) == len(set(called)) == 60
    with app.app_context():
        statuses = set(db.session.scalars(sa.select(Ticket.status)))
        assert statuses == {TicketStatus.DONE}
