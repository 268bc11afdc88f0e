"""Scheduled work for reports: publish results whose release delay has passed."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import Job
from reports.services.release import release_due


def release_due_reports(*, now: datetime) -> int:
    """Release every report whose delay has passed; the patient and family are notified."""
    return release_due(now=now)


JOBS = (Job("reports.release_due", release_due_reports, "interval", {"minutes": 1}),)
