"""Queue events reach subscribers only after the transaction that caused them commits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hospital.db import db
from hospital.unit_of_work import unit_of_work
from queueing.live import _PENDING, broker
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_a_committed_walk_in_wakes_the_queue_subscribers(hospital, create_service_point):
    point = create_service_point(hospital)
    queue = qf.open_queue(point, now=NOW)
    db.session.commit()
    hub = broker()
    subscription = hub.subscribe([queue.id])
    try:
        subscription.wait(0)  # forget the opening's event
        qf.walk_in(hospital, point, now=NOW)
        assert not subscription.wait(0), "told before the commit"
        db.session.commit()
        assert subscription.wait(10)
        assert hub.latest_version(queue.id) >= 1
    finally:
        hub.unsubscribe(subscription)


def test_a_rolled_back_walk_in_tells_nobody(hospital, create_service_point, backend):
    point = create_service_point(hospital)
    queue = qf.open_queue(point, now=NOW)
    db.session.commit()
    hub = broker()
    subscription = hub.subscribe([queue.id])
    try:
        with pytest.raises(RuntimeError), unit_of_work():
            qf.walk_in(hospital, point, now=NOW)
            assert db.session().info.get(_PENDING)
            raise RuntimeError("the kiosk lost power")
        assert not db.session().info.get(_PENDING)
        if backend == "sqlite":  # in-process delivery is synchronous: nothing arrived
            assert not subscription.wait(0)
    finally:
        hub.unsubscribe(subscription)
