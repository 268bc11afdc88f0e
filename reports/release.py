"""When a report reaches the patient: release rules per test type. Pure."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta


class ReleaseRule(enum.StrEnum):
    IMMEDIATE = "immediate"
    DELAYED = "delayed"
    CLINICIAN = "clinician"  # sensitive results: only a clinician's release publishes them


def release_due_at(rule: ReleaseRule, delay_minutes: int, received_at: datetime) -> datetime | None:
    """The moment a report may be published on its own, or None when a clinician must release it."""
    if rule is ReleaseRule.IMMEDIATE:
        return received_at
    if rule is ReleaseRule.DELAYED:
        return received_at + timedelta(minutes=max(delay_minutes, 0))
    return None


def releases_by_itself(
    rule: ReleaseRule, delay_minutes: int, received_at: datetime, *, now: datetime
) -> bool:
    """True when the rule lets the system publish the report at `now` without a clinician."""
    due = release_due_at(rule, delay_minutes, received_at)
    return due is not None and due <= now
