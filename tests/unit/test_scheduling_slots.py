"""Slot generation from wall-clock templates across daylight-saving changes and local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hospital.zones import local_date
from scheduling.slots import (
    WeeklySession,
    cancel_cutoff,
    release_instant,
    session_dates,
    slot_times,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(slots: list) -> list[datetime]:
    return [s.starts_at for s in slots]


@pytest.mark.parametrize(
    ("zone", "before", "after", "offset_before", "offset_after"),
    [
        (BERLIN, date(2026, 3, 23), date(2026, 3, 30), 1, 2),  # spring forward 29 March
        (BERLIN, date(2026, 10, 19), date(2026, 10, 26), 2, 1),  # fall back 25 October
        (NEW_YORK, date(2026, 3, 2), date(2026, 3, 9), -5, -4),  # spring forward 8 March
        (NEW_YORK, date(2026, 10, 26), date(2026, 11, 2), -4, -5),  # fall back 1 November
    ],
)
def test_a_morning_session_stays_at_eight_local_across_a_clock_change(
    zone: ZoneInfo, before: date, after: date, offset_before: int, offset_after: int
) -> None:
    for day, offset in ((before, offset_before), (after, offset_after)):
        slots = slot_times(day, time(8), time(12), 15, zone)
        assert len(slots) == 16
        assert slots[0].starts_at.astimezone(zone).time() == time(8)
        assert slots[-1].ends_at.astimezone(zone).time() == time(12)
        assert slots[0].starts_at == utc(day.year, day.month, day.day, 8 - offset)
        assert all(s.local_date == day for s in slots)


def test_no_slot_is_created_in_the_berlin_spring_gap() -> None:
    slots = slot_times(date(2026, 3, 29), time(1), time(4), 30, BERLIN)
    assert [s.local_start for s in slots] == [time(1), time(1, 30), time(3), time(3, 30)]
    assert starts(slots) == [
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 1, 30),
    ]


def test_no_slot_is_duplicated_in_the_berlin_autumn_fold() -> None:
    slots = slot_times(date(2026, 10, 25), time(1), time(4), 30, BERLIN)
    instants = starts(slots)
    assert len(instants) == len(set(instants)) == 6
    # 02:00 and 02:30 exist twice; each is created once, at its first (summer-time) occurrence.
    assert instants[2:4] == [utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30)]
    assert instants == sorted(instants)


def test_no_slot_is_created_in_the_new_york_spring_gap() -> None:
    slots = slot_times(date(2026, 3, 8), time(0), time(4), 60, NEW_YORK)
    assert [s.local_start for s in slots] == [time(0), time(1), time(3)]
    assert starts(slots) == [utc(2026, 3, 8, 5), utc(2026, 3, 8, 6), utc(2026, 3, 8, 7)]


def test_no_slot_is_duplicated_in_the_new_york_autumn_fold() -> None:
    slots = slot_times(date(2026, 11, 1), time(0), time(4), 60, NEW_YORK)
    assert starts(slots) == [
        utc(2026, 11, 1, 4),
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 7),
        utc(2026, 11, 1, 8),
    ]


def test_shanghai_slots_after_local_midnight_belong_to_the_local_day() -> None:
    slots = slot_times(date(2026, 1, 2), time(0), time(1), 30, SHANGHAI)
    assert starts(slots) == [utc(2026, 1, 1, 16), utc(2026, 1, 1, 16, 30)]
    assert {s.local_date for s in slots} == {date(2026, 1, 2)}
    assert local_date(utc(2026, 1, 1, 15, 59), SHANGHAI) == date(2026, 1, 1)
    assert local_date(utc(2026, 1, 1, 16, 0), SHANGHAI) == date(2026, 1, 2)


def test_a_slot_that_does_not_fit_before_the_end_is_not_created() -> None:
    slots = slot_times(date(2026, 1, 5), time(8), time(9, 10), 20, SHANGHAI)
    assert [s.local_start for s in slots] == [time(8), time(8, 20), time(8, 40)]


def test_weekly_template_runs_on_its_weekday_within_its_validity() -> None:
    template = WeeklySession(0, time(8), time(12), 15, date(2026, 1, 6), date(2026, 1, 26))
    assert list(session_dates(template, date(2026, 1, 1), date(2026, 2, 28))) == [
        date(2026, 1, 12),
        date(2026, 1, 19),
        date(2026, 1, 26),
    ]


def test_release_and_cancel_cutoff_are_local_wall_clock_instants() -> None:
    assert release_instant(date(2026, 1, 15), 14, time(7), SHANGHAI) == utc(2025, 12, 31, 23)
    assert cancel_cutoff(date(2026, 3, 30), 1, time(15), BERLIN) == utc(2026, 3, 29, 13)


@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    zone=st.sampled_from([BERLIN, NEW_YORK, SHANGHAI, ZoneInfo("Australia/Lord_Howe")]),
    start_hour=st.integers(0, 20),
    hours=st.integers(1, 3),
    minutes=st.sampled_from([10, 15, 20, 30, 60]),
)
def test_generated_slots_are_unique_ordered_and_on_their_local_day(
    day: date, zone: ZoneInfo, start_hour: int, hours: int, minutes: int
) -> None:
    slots = slot_times(day, time(start_hour), time(start_hour + hours), minutes, zone)
    instants = starts(slots)
    assert instants == sorted(set(instants))
    for s in slots:
        local = s.starts_at.astimezone(zone)
        assert local.date() == day
        assert local.replace(tzinfo=None).time() == s.local_start
