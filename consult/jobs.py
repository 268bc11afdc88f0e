"""Scheduled work for consultations: the deadline sweep (a catch-up: it handles all that is due)."""

from __future__ import annotations

from datetime import datetime

from consult.services.deadlines import SweepResult, sweep
from hospital.jobs import Job


def sweep_consultations(*, now: datetime) -> SweepResult:
    """Refund questions not answered in time, close finished conversations, lapse unpaid ones."""
    return sweep(now=now)


JOBS = (Job("consult.sweep", sweep_consultations, "interval", {"minutes": 1}),)
