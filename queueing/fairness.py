"""Fairness the patient can see: why someone who came later was called first. Pure.

The reason comes from the ordering's own reason code for that call (stored with the call), and
is told in plain words with no personal data: the class of priority, a booked time, a return
after a missed call, or a staff decision (never the staff's typed reason, which may name people).
"""

from __future__ import annotations

from typing import Any

from queueing import ordering

STAFF_DECISION = "staff_decision"
PRIORITY_PREFIX = "priority:"


def passing_reason(call_reason: str, called_priority: str) -> str:
    """What a waiting patient is told when this call went to someone who came after them."""
    if call_reason.startswith("out of order"):
        return STAFF_DECISION
    if call_reason in (ordering.REASON_PRIORITY_TURN, ordering.REASON_ONLY_PRIORITY):
        return PRIORITY_PREFIX + called_priority
    return call_reason


def called_ahead(state: dict[str, Any], ticket_id: int) -> str | None:
    """The reason to show on a waiting ticket's page when the queue's last call went to someone
    who arrived after this patient; None otherwise."""
    last = state.get("last_call")
    mine = state["tickets"].get(ticket_id)
    if not last or not mine or mine["status"] != "waiting":
        return None
    called = state["tickets"].get(last["ticket_id"])
    if called is None or called["id"] == ticket_id:
        return None
    if not (mine["arrived_at"] < called["arrived_at"] and mine["arrived_at"] <= last["at"]):
        return None
    return passing_reason(last["reason"], called["priority"])
