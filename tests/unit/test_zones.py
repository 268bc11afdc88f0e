from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hospital.zones import day_bounds, local_date, zone_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class FakeHospital:
    timezone: str


def test_zone_for_reads_the_hospitals_time_zone() -> None:
    assert zone_for(FakeHospital("Europe/Berlin")) == BERLIN
    assert zone_for(FakeHospital("Asia/Shanghai")) is SHANGHAI


def test_shanghai_midnight_is_sixteen_hundred_utc() -> None:
    assert local_date(utc(2026, 1, 1, 15, 59, 59), SHANGHAI) == date(2026, 1, 1)
    assert local_date(utc(2026, 1, 1, 16, 0), SHANGHAI) == date(2026, 1, 2)
    assert day_bounds(date(2026, 1, 2), SHANGHAI) == (utc(2026, 1, 1, 16), utc(2026, 1, 2, 16))


def test_local_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2026, 1, 1, 12, 0), SHANGHAI)  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    ("zone", "day", "start", "hours"),
    [
        (BERLIN, date(2026, 3, 29), utc(2026, 3, 28, 23), 23),  # spring forward
        (BERLIN, date(2026, 10, 25), utc(2026, 10, 24, 22), 25),  # fall back
        (BERLIN, date(2026, 6, 1), utc(2026, 5, 31, 22), 24),
        (NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 5), 23),
        (NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 4), 25),
        (NEW_YORK, date(2026, 1, 15), utc(2026, 1, 15, 5), 24),
    ],
)
def test_day_bounds_follow_daylight_saving(
    zone: ZoneInfo, day: date, start: datetime, hours: int
) -> None:
    begins, ends = day_bounds(day, zone)
    assert begins == start and begins.tzinfo is UTC and ends.tzinfo is UTC
    assert ends - begins == timedelta(hours=hours)
    assert ends == day_bounds(day + timedelta(days=1), zone)[0]
    assert local_date(begins, zone) == day
    assert local_date(ends - timedelta(microseconds=1), zone) == day
    assert local_date(ends, zone) == day + timedelta(days=1)


def test_the_hour_repeated_in_autumn_belongs_to_the_same_day() -> None:
    first = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    second = utc(2026, 11, 1, 6, 30)  # 01:30 EST, an hour later
    assert local_date(first, NEW_YORK) == local_date(second, NEW_YORK) == date(2026, 11, 1)
