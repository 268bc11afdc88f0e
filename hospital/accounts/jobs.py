"""Scheduled accounts work: forget one-time codes once they can no longer matter."""

from __future__ import annotations

from datetime import datetime

from hospital.accounts.services import codes
from hospital.jobs import Job


def prune_one_time_codes(*, now: datetime) -> int:
    """Delete codes older than a day: the send limits look back an hour, a code lives minutes."""
    return codes.prune_one_time_codes(now=now)


JOBS = (Job("accounts.prune_one_time_codes", prune_one_time_codes, "interval", {"hours": 1}),)
