"""Notification jobs: deliver the outbox."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import Job
from hospital.notifications.service import deliver_due


def deliver_outbox(*, now: datetime) -> int:
    """Send every message that is due (one batch per run; the job's unit of work commits)."""
    return deliver_due(now=now)


JOBS = (Job("deliver-outbox", deliver_outbox, "interval", {"seconds": 10}),)
