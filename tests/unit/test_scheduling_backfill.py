"""The waitlist's offer rules: time bands, quiet hours and claim windows."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from scheduling.backfill import OfferSettings, band_of, claim_deadline, parse_quiet_hours, send_time
from scheduling.models import TimeBand

SHANGHAI = ZoneInfo("Asia/Shanghai")
SETTINGS = OfferSettings()


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_bands_split_the_day_at_noon_and_six() -> None:
    assert band_of(time(11, 59)) is TimeBand.MORNING
    assert band_of(time(12)) is TimeBand.AFTERNOON
    assert band_of(time(18)) is TimeBand.EVENING


def test_offers_wait_for_the_end_of_the_quiet_hours() -> None:
    assert send_time(SHANGHAI, SETTINGS, now=at(21, 59)) == at(21, 59)
    assert send_time(SHANGHAI, SETTINGS, now=at(22, 0)) == at(7, day=2)
    assert send_time(SHANGHAI, SETTINGS, now=at(3, 30, day=2)) == at(7, day=2)
    assert send_time(SHANGHAI, SETTINGS, now=at(7, 0, day=2)) == at(7, day=2)
    quiet_never = OfferSettings(quiet_start=time(0), quiet_end=time(0))
    assert send_time(SHANGHAI, quiet_never, now=at(23)) == at(23)
    assert parse_quiet_hours("22:00-07:00") == (time(22), time(7))


def test_the_window_shortens_near_the_start_and_stops_at_the_cut_off() -> None:
    start = at(14)
    far = claim_deadline(at(8), starts_at=start, closes_at=start, settings=SETTINGS)
    assert far == at(8, 15)
    # A place freed 30 minutes before the start goes with a 5-minute window.
    near = claim_deadline(at(13, 30), starts_at=start, closes_at=start, settings=SETTINGS)
    assert near == at(13, 35)
    # Never past the booking cut-off; not offered once the cut-off is closer than 5 minutes.
    evening, cut = at(18), at(13, 30)
    assert claim_deadline(at(13, 20), starts_at=evening, closes_at=cut, settings=SETTINGS) == cut
    assert claim_deadline(at(13, 26), starts_at=evening, closes_at=cut, settings=SETTINGS) is None
