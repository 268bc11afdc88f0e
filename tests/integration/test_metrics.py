"""/metrics: who may read it, and that its figures tell the truth; the JSON request log."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

import pytest

from hospital.db import utcnow
from hospital.metrics import JsonFormatter
from hospital.notifications.service import notify
from tests.support import factories
from tests.support import queueing_factories as qf

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def _scrape(client: Any, **kw: Any) -> str:
    response = client.get("/metrics", environ_base=LOOPBACK, **kw)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    return str(response.get_data(as_text=True))


def test_metrics_answer_only_the_machine_itself_without_a_token(client: Any) -> None:
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 404
    assert "hospital_http_request_duration_seconds" in _scrape(client)


def test_with_a_token_only_the_token_opens_them(
    client: Any, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret")
    outside = {"REMOTE_ADDR": "10.0.0.7"}
    assert client.get("/metrics", environ_base=LOOPBACK).status_code == 404
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", environ_base=outside, headers=wrong).status_code == 404
    right = {"Authorization": "Bearer scrape-secret"}
    assert client.get("/metrics", environ_base=outside, headers=right).status_code == 200


def test_request_latency_is_counted_by_endpoint_method_and_status(client: Any) -> None:
    before = _sample(
        _scrape(client),
        "hospital_http_request_duration_seconds_count",
        endpoint="web.healthz",
        status="200",
    )
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page")
    text = _scrape(client)
    after = _sample(
        text,
        "hospital_http_request_duration_seconds_count",
        endpoint="web.healthz",
        method="GET",
        status="200",
    )
    assert after == (before or 0) + 3
    assert _sample(text, "hospital_http_request_duration_seconds_count", endpoint="unmatched")


def test_outbox_backlog_and_oldest_pending_age(client: Any, hospital: Any) -> None:
    now = utcnow()
    for minutes in (0, 7):
        notify(
            hospital_id=hospital.id,
            template="sign_in_code",
            context={"hospital": "H", "code": "123456", "minutes": 5},
            language="en",
            phone="13800138000",
            now=now,
        )[0].created_at = now - timedelta(minutes=minutes)
    text = _scrape(client)
    assert _sample(text, "hospital_outbox_pending", channel="sms") == 2
    oldest = _sample(text, "hospital_outbox_oldest_pending_seconds", channel="sms")
    assert oldest is not None and 7 * 60 <= oldest < 8 * 60


def test_queue_length_and_longest_wait_per_queue(client: Any, hospital: Any) -> None:
    room = factories.create_service_point(hospital)
    now = utcnow()
    qf.open_queue(room, now=now)
    first = qf.walk_in(hospital, room, now=now - timedelta(minutes=12))
    qf.walk_in(hospital, room, now=now)
    text = _scrape(client)
    queue_id = str(first.queue_id)
    assert _sample(text, "hospital_queue_waiting", queue_id=queue_id) == 2
    longest = _sample(text, "hospital_queue_longest_wait_seconds", queue_id=queue_id)
    assert longest is not None and 12 * 60 <= longest < 13 * 60


def test_scheduler_leadership_is_read_from_the_database(client: Any, backend: str) -> None:
    text = _scrape(client)
    if backend == "postgresql":
        assert _sample(text, "hospital_scheduler_leader") == 0  # no scheduler in this test
    else:
        assert _sample(text, "hospital_scheduler_leader") is None  # SQLite: no election


def test_each_request_is_one_json_line_without_paths_or_personal_data(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hospital.request")
    client.get("/q/secret-ticket-token-123456?phone=13800138000", headers={"X-Request-Id": "r-42"})
    records = [r for r in caplog.records if r.name == "hospital.request"]
    assert records
    line = JsonFormatter().format(records[-1])
    entry = json.loads(line)
    assert entry["request_id"] == "r-42"
    assert entry["endpoint"] and entry["method"] == "GET" and entry["status"] in (200, 404)
    assert isinstance(entry["duration_ms"], float)
    assert "secret-ticket-token" not in line and "13800138000" not in line
