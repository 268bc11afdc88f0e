"""Rules of the waitlist's offers: time bands, quiet hours and claim windows (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.models import TimeBand


@dataclass(frozen=True)
class OfferSettings:
    claim_minutes: int = 15
    min_claim_minutes: int = 5
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    max_lapses: int = 3


def band_of(local_start: time) -> TimeBand:
    """The time band a slot starting at this local time belongs to."""
    if local_start < time(12, 0):
        return TimeBand.MORNING
    if local_start < time(18, 0):
        return TimeBand.AFTERNOON
    return TimeBand.EVENING


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """Read "22:00-07:00" (start-end, local time); equal times mean no quiet hours."""
    start, _, end = text.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def _in_quiet(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def send_time(zone: ZoneInfo, settings: OfferSettings, *, now: datetime) -> datetime:
    """When an offer made now may be sent: now, or the end of the night's quiet hours."""
    local = now.astimezone(zone)
    if not _in_quiet(local.timetz().replace(tzinfo=None), settings.quiet_start, settings.quiet_end):
        return now
    day = local.date()
    if local.time() >= settings.quiet_end:  # before midnight: quiet hours end tomorrow
        day += timedelta(days=1)
    wake = datetime.combine(day, settings.quiet_end, tzinfo=zone)
    return wake.astimezone(now.tzinfo)


def claim_deadline(
    notify_at: datetime, *, starts_at: datetime, closes_at: datetime, settings: OfferSettings
) -> datetime | None:
    """When an offer sent at notify_at lapses; None when it is too late to offer the place.

    The window shortens near the start (a sixth of the time left, never under the minimum), and
    never runs past the slot's booking cut-off; a place whose cut-off is closer than the minimum
    window is not offered at all.
    """
    shortest = timedelta(minutes=settings.min_claim_minutes)
    if closes_at - notify_at < shortest:
        return None
    window = min(
        timedelta(minutes=settings.claim_minutes), max(shortest, (starts_at - notify_at) / 6)
    )
    return min(notify_at + window, closes_at)
