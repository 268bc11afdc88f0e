"""Scheduled work for reports: publish results whose release delay has passed."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import job
from reports.services.release import release_due


@job("reports.release_due", "interval", minutes=1)
def release_due_reports(now: datetime) -> int:
    """Release every report whose delay has passed; the patient and family are notified."""
    return release_due(now)
