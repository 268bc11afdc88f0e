"""Staff alerts from a queue's state: each of the four, at its threshold and not before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queueing import alerts

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def _state(*, tickets, waiting, counters=()):
    return {
        "queue": {"id": 7},
        "tickets": {t["id"]: t for t in tickets},
        "waiting": [{"ticket_id": i} for i in waiting],
        "counters": list(counters),
    }


def _ticket(id, code, minutes, *, kind="walk_in", status="waiting", calls=0):
    return {
        "id": id,
        "code": code,
        "kind": kind,
        "status": status,
        "call_count": calls,
        "arrived_at": (NOW - timedelta(minutes=minutes)).isoformat(),
    }


def test_each_alert_fires_at_its_threshold_and_names_no_one():
    state = _state(
        tickets=[
            _ticket(1, "A001", 61),
            _ticket(2, "A002", 30, kind="booked"),
            _ticket(3, "A003", 29, kind="booked"),
            _ticket(4, "A004", 5, status="called", calls=3),
        ],
        waiting=[1, 2, 3],
        counters=[
            {"code": "2", "paused": True, "paused_until": (NOW - timedelta(minutes=6)).isoformat()},
            {"code": "3", "paused": True, "paused_until": (NOW - timedelta(minutes=4)).isoformat()},
            {"code": "4", "paused": True, "paused_until": None},
        ],
    )
    found = {
        (a.kind, tuple(sorted(a.detail.items())))
        for a in alerts.queue_alerts(state, alerts.Thresholds(), now=NOW)
    }
    assert found == {
        (alerts.BOOKED_WAITING, (("code", "A002"), ("minutes", 30))),
        (alerts.LONGEST_WAIT, (("code", "A001"), ("minutes", 61))),
        (alerts.PAUSE_OVERRUN, (("counter", "2"), ("minutes", 6))),
        (alerts.CALLED_NOT_COMING, (("calls", 3), ("code", "A004"))),
    }


def test_thresholds_are_per_queue():
    state = _state(tickets=[_ticket(1, "A001", 20, kind="booked")], waiting=[1])
    assert alerts.queue_alerts(state, alerts.Thresholds(), now=NOW) == []
    strict = alerts.Thresholds(booked_wait_minutes=15, longest_wait_minutes=20)
    assert {a.kind for a in alerts.queue_alerts(state, strict, now=NOW)} == {
        alerts.BOOKED_WAITING,
        alerts.LONGEST_WAIT,
    }
