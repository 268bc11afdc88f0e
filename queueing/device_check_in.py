"""How a device checks an appointment in here: a port the composition root fills.

A kiosk proves who it acts for with the appointment's QR code, and its check-ins are rate-limited
per device and audited; that is the kiosk's own check-in (kiosk/services/check_in.py), which queueing may
not import (ARCHITECTURE.md). hospital/app.py hands it over at start-up; without it, devices may
not check in through the queueing API at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hospital.accounts.models import Device
    from queueing.models import Ticket


class CheckInWithCode(Protocol):
    """(device, appointment code, *, now) -> the appointment's ticket."""

    def __call__(self, device: Device, code: str, *, now: datetime) -> Ticket: ...


_provided: list[CheckInWithCode] = []


def provide(check_in_with_code: CheckInWithCode) -> None:
    """Called once by the composition root."""
    _provided[:] = [check_in_with_code]


def check_in_with_code(device: Device, code: str, *, now: datetime) -> Ticket | None:
    """The ticket of the appointment the code names, or None when no device check-in is wired."""
    return _provided[0](device, code, now=now) if _provided else None
