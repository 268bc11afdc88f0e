"""A hospital's time zone, its calendar days, and their bounds in UTC.

Times are stored in UTC and shown in the hospital's zone; a "day" (a service day, a statistics
day, the cashier's day) is always the hospital's local calendar day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# The zone a hospital gets when none is given, and the one pages use before any hospital exists.
DEFAULT_TIMEZONE = "Asia/Shanghai"


class HasTimezone(Protocol):
    @property
    def timezone(self) -> str: ...


def zone_for(hospital: HasTimezone) -> ZoneInfo:
    """The hospital's time zone (ZoneInfo caches one instance per name)."""
    return ZoneInfo(hospital.timezone)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day in this zone at an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return moment.astimezone(zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which this local day starts and the next one starts.

    A day is 23 or 25 hours long on a daylight-saving change; a midnight that falls in a gap is
    read with the offset in force before the change (the moment the clock passes it).
    """
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end
