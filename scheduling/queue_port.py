"""How the day list's check-in gives the patient a queue number: a port the composition root fills.

Scheduling may not import queueing (ARCHITECTURE.md), so hospital/app.py hands it queueing's
staff check-in, the same service call the kiosk makes. Without it a check-in only marks the
appointment arrived.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

# (*, actor, appointment_id, now) -> (ticket with .code, created)
StaffCheckIn = Callable[..., tuple[Any, bool]]

_provided: list[StaffCheckIn] = []
# The endpoint of the page where a patient checks in from the phone ("I have arrived").
_arrival_endpoint: list[str] = []


def provide(*, staff_check_in: StaffCheckIn, arrival_endpoint: str | None = None) -> None:
    """Called once by the composition root."""
    _provided[:] = [staff_check_in]
    _arrival_endpoint[:] = [arrival_endpoint] if arrival_endpoint else []


def arrival_url() -> str | None:
    """Where "I have arrived" leads (None: no queue is connected)."""
    from flask import url_for

    return url_for(_arrival_endpoint[0]) if _arrival_endpoint else None


def staff_check_in(*, actor: Any, appointment_id: int, now: datetime) -> str | None:
    """Check the appointment in and return its ticket's number (None: no queue is connected)."""
    if not _provided:
        return None
    ticket, _created = _provided[0](actor=actor, appointment_id=appointment_id, now=now)
    return str(ticket.code)
