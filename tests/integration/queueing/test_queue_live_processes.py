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
