"""Turn wall-clock session templates into UTC slot instants (pure: no Flask, no database).

Sessions are defined in the hospital's local time so that a daylight-saving change moves no
clinic session: Monday 08:00-12:00 stays 08:00-12:00 local, whatever the UTC offset that day.
A local time that does not exist (in the spring gap) produces no slot; a local time that exists
twice (in the autumn fold) produces one slot, at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SlotTimes:
    starts_at: datetime  # aware UTC
    ends_at: datetime  # aware UTC
    local_date: date
    local_start: time


@dataclass(frozen=True)
class WeeklySession:
    """The parts of a session template the calendar arithmetic needs."""

    weekday: int  # Monday = 0
    start_time: time
    end_time: time
    slot_minutes: int
    valid_from: date
    valid_until: date | None = None


def local_exists(wall: datetime, zone: ZoneInfo) -> bool:
    """True unless this naive wall-clock time falls in a daylight-saving gap."""
    aware = wall.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back == wall


def to_utc(local_day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time (the first one in a fold).

    A time in a gap is read with the offset in force before the change (02:30 in Berlin on the
    spring-forward day becomes 01:30 UTC, i.e. 03:30 summer time): the moment the clock passes it.
    """
    return datetime.combine(local_day, wall).replace(tzinfo=zone, fold=0).astimezone(UTC)


def slot_times(
    local_day: date, start: time, end: time, slot_minutes: int, zone: ZoneInfo
) -> list[SlotTimes]:
    """The slots of one session on one local day, in order; none in a gap, none twice in a fold."""
    if slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    length = timedelta(minutes=slot_minutes)
    wall = datetime.combine(local_day, start)
    wall_end = datetime.combine(local_day, end)
    result: list[SlotTimes] = []
    seen: set[datetime] = set()
    while wall + length <= wall_end:
        if local_exists(wall, zone):
            starts_at = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            if starts_at not in seen:
                seen.add(starts_at)
                result.append(SlotTimes(starts_at, starts_at + length, local_day, wall.time()))
        wall += length
    return result


def session_dates(template: WeeklySession, first: date, last: date) -> Iterator[date]:
    """The local dates in [first, last] on which a weekly template runs."""
    first = max(first, template.valid_from)
    if template.valid_until is not None:
        last = min(last, template.valid_until)
    if first > last:
        return
    offset = (template.weekday - first.weekday()) % 7
    day = first + timedelta(days=offset)
    while day <= last:
        yield day
        day += timedelta(days=7)


def release_instant(
    session_day: date, opens_days: int, release_time: time, zone: ZoneInfo
) -> datetime:
    """When a session's slots become bookable: `opens_days` before, at the local release time."""
    return to_utc(session_day - timedelta(days=opens_days), release_time, zone)


def cancel_cutoff(session_day: date, days_before: int, cutoff: time, zone: ZoneInfo) -> datetime:
    """The last instant a patient may cancel online (e.g. 15:00 local the day before)."""
    return to_utc(session_day - timedelta(days=days_before), cutoff, zone)
