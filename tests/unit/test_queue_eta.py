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


def test_a_paused_counter_counts_from_when_it_said_it_would_be_back():
    lanes = [eta.Lane(0.0), eta.Lane(1200.0)]
    # Two ahead at 5 minutes: the free counter takes both (0, 300) and the third at 600.
    assert eta.expected_wait_seconds(2, per_ticket_seconds=300, lanes=lanes) == 600
    assert (
        eta.lane_for_counter(
            per_ticket_seconds=300, busy_for_seconds=None, paused=True, back_in_seconds=None
        )
        is None
    )


def test_booked_patients_not_yet_arrived_lengthen_the_wait():
    lanes = [eta.Lane(0.0)]
    alone = eta.expected_wait_seconds(1, per_ticket_seconds=300, lanes=lanes)
    with_booked = eta.expected_wait_seconds(
        1, per_ticket_seconds=300, lanes=lanes, booked_ahead_in_seconds=[60.0], show_rate=1.0
    )
    assert (alone, with_booked) == (300, 600)


def test_calibration_reaches_the_target_on_what_it_was_fitted_on():
    import random

    rng = random.Random(7)
    judged = [
        (e, e * rng.lognormvariate(0, 0.4)) for e in (rng.uniform(60, 2400) for _ in range(300))
    ]
    fitted = eta.calibrate(judged, target=0.8)
    assert fitted.samples == 300 and abs(fitted.fitted_coverage - 0.8) < 0.03
    inside = sum(eta.wait_range(2, e, fitted).contains(a) for e, a in judged)
    assert abs(inside / 300 - 0.8) < 0.03


def test_too_few_judged_estimates_keep_the_previous_calibration():
    assert eta.calibrate([(60.0, 60.0)] * 5, target=0.8) is eta.UNCALIBRATED
