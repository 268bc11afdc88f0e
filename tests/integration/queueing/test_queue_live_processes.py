"""An action served by one server process reaches a screen served by another (PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.queueing_factories import hospital_server, read_events


def test_call_on_server_a_updates_ticket_stream_on_server_b(app, backend, committed, database_url):
    if backend == "sqlite":
        pytest.skip("across processes the broker is PostgreSQL LISTEN/NOTIFY")
    now = utcnow()
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        point = factories.create_service_point(hospital, room="101")
        qf.open_queue(point, now=now)
        counter = qf.create_counter(point)
        factories.create_account(
            hospital, roles=(Role.NURSE,), password="pw-nurse-123", username="nurse1"
        )
        ticket = qf.walk_in(hospital, point, now=now - timedelta(minutes=1))
        token, counter_id = ticket.token, counter.id
    with hospital_server(database_url) as server_a, hospital_server(database_url) as server_b:
        stream = requests.get(
            f"{server_b}/api/v1/queueing/tickets/{token}/events", stream=True, timeout=20
        )
        events = read_events(stream)
        kind, data = next(events)
        assert kind == "snapshot" and json.loads(data)["status"] == "waiting"
        nurse = requests.Session()
        signed = nurse.post(
            f"{server_a}/api/v1/auth/password",
            json={"login": "nurse1", "password": "pw-nurse-123"},
            timeout=10,
        )
        assert signed.status_code == 200, signed.text
        called = nurse.post(
            f"{server_a}/api/v1/queueing/counters/{counter_id}/call-next", json={}, timeout=10
        )
        assert called.status_code == 200, called.text
        for kind, data in events:
            if kind == "snapshot":
                assert json.loads(data)["status"] == "called"
                break
        stream.close()


def test_publishes_from_many_threads_at_once_all_arrive_with_the_newest_version(
    backend, database_url
):
    """A thread that finds the publishing connection busy leaves its event to the holder."""
    import threading

    from queueing.live import CHANNEL, PostgresBroker

    if backend == "sqlite":
        pytest.skip("across processes the broker is PostgreSQL LISTEN/NOTIFY")
    import psycopg
    import sqlalchemy as sa

    conninfo = (
        sa.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    publisher = PostgresBroker(conninfo)
    queues, versions = range(900_001, 900_006), 40
    start = threading.Event()

    def send(queue_id: int) -> None:
        start.wait()
        for version in range(1, versions + 1):
            publisher.publish(queue_id, version)

    newest: dict[int, int] = {}
    with psycopg.connect(conninfo, autocommit=True) as listening:
        listening.execute(f"LISTEN {CHANNEL}")
        threads = [threading.Thread(target=send, args=(q,)) for q in queues for _ in range(3)]
        for thread in threads:
            thread.start()
        start.set()
        for thread in threads:
            thread.join()
        for note in listening.notifies(timeout=20):
            queue_id, _, version = note.payload.partition(":")
            newest[int(queue_id)] = max(newest.get(int(queue_id), 0), int(version))
            if newest == dict.fromkeys(queues, versions):
                break
    assert publisher._publisher is not None
    publisher._publisher.close()
    assert newest == dict.fromkeys(queues, versions)
