"""Scheduled work: materialise slots, release lapsed holds, mark no-shows, send reminders."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import job
from scheduling import notices
from scheduling.services import attendance, materialise, places


@job("scheduling.materialise_slots", "interval", minutes=30)
def materialise_slots(now: datetime) -> int:
    return materialise.materialise_slots(now=now)


@job("scheduling.release_expired_holds", "interval", minutes=1)
def release_expired_holds(now: datetime) -> int:
    return places.release_expired_holds(now=now)


@job("scheduling.mark_no_shows", "interval", minutes=10)
def mark_no_shows(now: datetime) -> int:
    return attendance.mark_no_shows(now=now)


@job("scheduling.send_reminders", "interval", minutes=30)
def send_reminders(now: datetime) -> int:
    return notices.send_reminders(now=now)
