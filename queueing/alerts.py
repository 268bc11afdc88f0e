"""Staff alerts on a queue: pure, no Flask and no database.

Four things staff should act on: a booked patient who checked in has waited past the
threshold, the queue's longest wait passed its threshold, a paused counter is later than it
said it would be back, a patient was called several times without coming.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

BOOKED_WAITING = "booked_waiting_long"
LONGEST_WAIT = "longest_wait"
PAUSE_OVERRUN = "pause_overrun"
CALLED_NOT_COMING = "called_not_coming"


@dataclass(frozen=True)
class Thresholds:
    booked_wait_minutes: int = 30
    longest_wait_minutes: int = 60
    pause_overrun_minutes: int = 5
    calls_without_coming: int = 3


@dataclass(frozen=True)
class Alert:
    kind: str
    queue_id: int
    detail: dict[str, Any] = field(default_factory=dict)


def _minutes(since: str, *, now: datetime) -> int:
    return int((now - datetime.fromisoformat(since)).total_seconds() // 60)


def queue_alerts(state: dict[str, Any], thresholds: Thresholds, *, now: datetime) -> list[Alert]:
    """The alerts a queue's state raises now; tickets by number only (no names)."""
    queue_id = state["queue"]["id"]
    tickets = state["tickets"]
    waiting = [tickets[w["ticket_id"]] for w in state["waiting"]]
    alerts: list[Alert] = []
    for t in waiting:
        waited = _minutes(t["arrived_at"], now=now)
        if t["kind"] == "booked" and waited >= thresholds.booked_wait_minutes:
            alerts.append(Alert(BOOKED_WAITING, queue_id, {"code": t["code"], "minutes": waited}))
    if waiting:
        longest = max(waiting, key=lambda t: _minutes(t["arrived_at"], now=now))
        waited = _minutes(longest["arrived_at"], now=now)
        if waited >= thresholds.longest_wait_minutes:
            alerts.append(
                Alert(LONGEST_WAIT, queue_id, {"code": longest["code"], "minutes": waited})
            )
    for c in state["counters"]:
        if c["paused"] and c.get("paused_until"):
            late = _minutes(c["paused_until"], now=now)
            if late >= max(thresholds.pause_overrun_minutes, 1):
                alerts.append(
                    Alert(PAUSE_OVERRUN, queue_id, {"counter": c["code"], "minutes": late})
                )
    for t in tickets.values():
        if (
            t["status"] in ("waiting", "called")
            and t["call_count"] >= thresholds.calls_without_coming
        ):
            alerts.append(
                Alert(CALLED_NOT_COMING, queue_id, {"code": t["code"], "calls": t["call_count"]})
            )
    return alerts
