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


def provide(*, staff_check_in: StaffCheckIn) -> None:
    """Called once by the composition root."""
    _provided[:] = [staff_check_in]


def staff_check_in(*, actor: Any, appointment_id: int, now: datetime) -> str | None:
    """Check the appointment in and return its ticket's number (None: no queue is connected)."""
    if not _provided:
        return None
    ticket, _created = _provided[0](actor=actor, appointment_id=appointment_id, now=now)
    return str(ticket.code)
