"""ETA ranges from the median of recent service times."""

from __future__ import annotations

from queueing import eta


def test_default_is_used_until_there_are_enough_samples():
    seconds, measured = eta.typical_service_seconds([60, 60], default_seconds=300)
    assert (seconds, measured) == (300, False)


def test_median_of_recent_samples_ignores_an_outlier():
    seconds, measured = eta.typical_service_seconds([240, 240, 260, 300, 3600], default_seconds=600)
    assert measured and seconds == 260


def test_three_ahead_at_five_minutes_reads_about_15_to_20_minutes():
    e = eta.estimate(3, samples=[300] * 10, default_seconds=600)
    assert (e.low_minutes, e.high_minutes) == (15, 20)


def test_two_counters_halve_the_wait_and_range_is_never_empty():
    e = eta.estimate(4, samples=[300] * 10, default_seconds=600, counters=2)
    assert (e.low_minutes, e.high_minutes) == (10, 15)
    zero = eta.estimate(0, samples=[], default_seconds=60)
    assert zero.low_minutes == 0 and zero.high_minutes == 5
