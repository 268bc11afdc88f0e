"""kill -9 the instance holding a ticket page's live event stream.

The ticket page's EventSource is connected through HAProxy; the instance serving it dies. The
client reconnects as a browser's EventSource does (after the stream's `retry:` delay, to the
same address), lands on another instance through the proxy, gets the ticket's current state at
once and the next call when a nurse calls it.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from deploy.cluster import WEB_COUNT, Cluster
from hospital.accounts.models import Role
from tests.support.queueing_factories import read_events

WAIT_S = 120  # generous; the loops poll, they assert no speed
NURSE_PASSWORD = "pw-faults-nurse-1"


@pytest.fixture(scope="module")
def waiting_ticket(cluster: Cluster, rush_hospital: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A queue with a counter, a nurse account and one patient's ticket waiting in it."""
    from hospital.app import create_app
    from hospital.db import db, utcnow
    from hospital.organisation.models import Hospital
    from hospital.unit_of_work import unit_of_work
    from tests.support import factories
    from tests.support import queueing_factories as qf

    app = create_app({"DATABASE_URL": cluster.database_url})
    now = utcnow()
    with app.app_context():
        with unit_of_work():
            # The first hospital: the one sign-in serves when the database holds several.
            hospital = db.session.scalars(sa.select(Hospital).order_by(Hospital.id)).first()
            assert hospital is not None
            point = factories.create_service_point(hospital, room="301")
            qf.open_queue(point, now=now)
            counter = qf.create_counter(point)
            factories.create_account(
                hospital, roles=(Role.NURSE,), password=NURSE_PASSWORD, username="faults-nurse"
            )
            ticket = qf.walk_in(hospital, point, now=now - timedelta(minutes=1))
            values = {"token": ticket.token, "counter_id": counter.id}
        db.session.remove()
        db.engine.dispose()
    yield values


def _subscribers(cluster: Cluster, index: int) -> float:
    try:
        text = requests.get(cluster.web_url(index) + "/metrics", timeout=15).text
    except requests.RequestException:
        return 0.0
    for line in text.splitlines():
        if line.startswith("hospital_sse_subscribers"):
            return float(line.split()[-1])
    return 0.0


def _serving(cluster: Cluster) -> list[int]:
    """The instances holding an open event stream (each instance's own /metrics)."""
    return [i for i in range(WEB_COUNT) if _subscribers(cluster, i) > 0]


def _connect(url: str, opened: list[requests.Response]) -> Iterator[tuple[str, str]]:
    """Open the stream as EventSource does: retry the same URL until it answers 200.

    Every response is kept in `opened` for the test to close: an unclosed socket is reported
    when it is collected, in whichever test runs then."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            response = requests.get(
                url, stream=True, timeout=30, headers={"Accept": "text/event-stream"}
            )
        except requests.RequestException:
            response = None
        if response is not None:
            opened.append(response)
        if response is not None and response.status_code == 200:
            return read_events(response)
        assert time.monotonic() < deadline, "the stream did not come back"
        time.sleep(2)  # the stream's `retry: 2000`, as a browser waits before reconnecting


def _next_snapshot(events: Iterator[tuple[str, str]]) -> dict[str, Any]:
    for kind, data in events:
        if kind == "snapshot":
            return dict(json.loads(data))
    raise AssertionError("the stream ended without a snapshot")


def test_a_ticket_stream_survives_its_instance_being_killed(
    cluster: Cluster, waiting_ticket: dict[str, Any]
) -> None:
    url = f"{cluster.url}/api/v1/queueing/tickets/{waiting_ticket['token']}/events"
    opened: list[requests.Response] = []
    closing: list[requests.Session] = []
    events = _connect(url, opened)
    assert _next_snapshot(events)["status"] == "waiting"
    deadline = time.monotonic() + WAIT_S
    while len(_serving(cluster)) != 1:
        assert time.monotonic() < deadline, "no instance counts the open stream"
        time.sleep(0.5)  # the gauge is read over HTTP; polling, not papering over a race
    (victim,) = _serving(cluster)

    cluster.kill(f"web{victim + 1}", signal.SIGKILL)
    killed = time.monotonic()
    try:
        # The broken stream ends (the proxy closes it when its server dies).
        with pytest.raises((requests.RequestException, StopIteration)):
            while True:
                next(events)
        events = _connect(url, opened)
        assert _next_snapshot(events)["status"] == "waiting"  # the current state, at once
        back = time.monotonic() - killed
        (now_serving,) = _serving(cluster)
        assert now_serving != victim

        nurse = requests.Session()
        closing.append(nurse)
        signed = nurse.post(
            f"{cluster.url}/api/v1/auth/password",
            json={"login": "faults-nurse", "password": NURSE_PASSWORD},
            timeout=30,
        )
        assert signed.status_code == 200, signed.text
        called = nurse.post(
            f"{cluster.url}/api/v1/queueing/counters/{waiting_ticket['counter_id']}/call-next",
            json={},
            timeout=30,
        )
        assert called.status_code == 200, called.text
        # Heartbeats may come first; the next snapshot is the call.
        assert _next_snapshot(events)["status"] == "called"
        print(f"\nstream back through the proxy {back:.1f} s after web{victim + 1} was killed")
    finally:
        for response in opened:
            response.close()
        for session in closing:
            session.close()
        cluster.start_web(victim)
        cluster.wait_ready(victim)
