"""Waiting-time estimates from recent service times: pure, no Flask and no database."""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_SAMPLES = 5
RECENT_SAMPLES = 20
ROUND_TO_MINUTES = 5


@dataclass(frozen=True)
class Estimate:
    ahead: int
    low_minutes: int
    high_minutes: int
    per_ticket_seconds: float
    from_samples: bool  # False while the queue uses its configured default


def typical_service_seconds(samples: list[float], *, default_seconds: float) -> tuple[float, bool]:
    """The median of the most recent samples, or the default until there are enough of them."""
    recent = [s for s in samples[-RECENT_SAMPLES:] if s > 0]
    if len(recent) < MIN_SAMPLES:
        return float(default_seconds), False
    return float(statistics.median(recent)), True


def estimate(
    ahead: int, *, samples: list[float], default_seconds: float, counters: int = 1
) -> Estimate:
    """'N ahead, about X–Y minutes': the range spans finishing the current one to one more."""
    per_ticket, measured = typical_service_seconds(samples, default_seconds=default_seconds)
    lanes = max(counters, 1)
    low = ahead * per_ticket / lanes / 60
    high = (ahead + 1) * per_ticket / lanes / 60
    low_rounded = int(math.floor(low / ROUND_TO_MINUTES) * ROUND_TO_MINUTES)
    high_rounded = int(math.ceil(high / ROUND_TO_MINUTES) * ROUND_TO_MINUTES)
    if high_rounded <= low_rounded:
        high_rounded = low_rounded + ROUND_TO_MINUTES
    return Estimate(ahead, low_rounded, high_rounded, per_ticket, measured)


# ---- wait estimates with measured accuracy ------------------------------------------------------
#
# The expected wait comes from a small model of the counters (which are free, which are busy,
# which come back from a pause and when) and of the booked patients not yet arrived whose slot
# will place them ahead. The range shown around it is calibrated per queue from how earlier
# ranges fared: the factors are chosen so that a target share of patients is called inside the
# range as displayed (after rounding), measured on the queue's recent judged estimates.

DEFAULT_FACTORS = (0.7, 1.4)
MIN_CALIBRATION_SAMPLES = 30
CALIBRATION_SAMPLES = 400
DEFAULT_SHOW_RATE = 0.85  # share of booked patients who come


@dataclass(frozen=True)
class Lane:
    """A counter as the model sees it: seconds from now until it can start another patient."""

    free_in_seconds: float


@dataclass(frozen=True)
class Calibration:
    low_factor: float
    high_factor: float
    samples: int
    fitted_coverage: float | None  # the share inside on the data it was fitted on


UNCALIBRATED = Calibration(DEFAULT_FACTORS[0], DEFAULT_FACTORS[1], 0, None)


@dataclass(frozen=True)
class WaitRange:
    """What the ticket page shows: about low–high minutes, around an expected wait."""

    ahead: int
    expected_seconds: float
    low_minutes: int
    high_minutes: int
    calibrated: bool

    @property
    def midpoint_seconds(self) -> float:
        return (self.low_minutes + self.high_minutes) * 30.0

    def contains(self, actual_seconds: float) -> bool:
        return self.low_minutes * 60 <= actual_seconds <= self.high_minutes * 60


def lane_for_counter(
    *,
    per_ticket_seconds: float,
    busy_for_seconds: float | None,
    paused: bool,
    back_in_seconds: float | None,
) -> Lane | None:
    """A counter's lane: busy ones free up after the rest of a typical service, paused ones when
    they said they would be back; a pause with no expected end takes the counter out."""
    if paused:
        if back_in_seconds is None:
            return None
        return Lane(max(back_in_seconds, 0.0))
    if busy_for_seconds is None:
        return Lane(0.0)
    # A service that ran longer than typical is taken to end soon, not never.
    return Lane(max(per_ticket_seconds - busy_for_seconds, per_ticket_seconds * 0.1))


def _nth_start(n: int, per_ticket: float, lanes: list[Lane]) -> float:
    """When the (n+1)-th next patient starts, counters taking patients in turn as they free up."""
    free = sorted(lane.free_in_seconds for lane in lanes)
    heapq.heapify(free)
    start = 0.0
    for _ in range(n + 1):
        start = heapq.heappop(free)
        heapq.heappush(free, start + per_ticket)
    return start


def _fractional_start(ahead: float, per_ticket: float, lanes: list[Lane]) -> float:
    whole = int(math.floor(ahead))
    low = _nth_start(whole, per_ticket, lanes)
    if ahead == whole:
        return low
    high = _nth_start(whole + 1, per_ticket, lanes)
    return low + (high - low) * (ahead - whole)


def expected_wait_seconds(
    ahead: int,
    *,
    per_ticket_seconds: float,
    lanes: list[Lane],
    booked_ahead_in_seconds: Sequence[float] = (),
    show_rate: float = DEFAULT_SHOW_RATE,
) -> float:
    """Seconds until this ticket is called: `ahead` people, plus booked patients not yet arrived
    whose slot starts before then (they take their place ahead when they come in time)."""
    working = list(lanes) or [Lane(0.0)]
    per_ticket = max(per_ticket_seconds, 1.0)
    booked = sorted(booked_ahead_in_seconds)
    extra = 0.0
    wait = _fractional_start(ahead, per_ticket, working)
    for _ in range(10):  # a fixed point: more people ahead, a later call, more booked ahead
        extra = show_rate * sum(1 for start in booked if start <= wait)
        later = _fractional_start(ahead + extra, per_ticket, working)
        if abs(later - wait) < 1.0:
            wait = later
            break
        wait = later
    return wait


def _round_range(low_seconds: float, high_seconds: float) -> tuple[int, int]:
    """Whole minutes outward; steps of ROUND_TO_MINUTES once the wait is long enough."""
    step = 1 if high_seconds < 15 * 60 else ROUND_TO_MINUTES
    low = int(math.floor(max(low_seconds, 0.0) / 60 / step) * step)
    high = int(math.ceil(high_seconds / 60 / step) * step)
    if high <= low:
        high = low + step
    return low, high


def wait_range(ahead: int, expected_seconds: float, calibration: Calibration) -> WaitRange:
    """The range shown for an expected wait, by the queue's calibration."""
    low, high = _round_range(
        expected_seconds * calibration.low_factor, expected_seconds * calibration.high_factor
    )
    return WaitRange(ahead, expected_seconds, low, high, calibration.samples > 0)


def _quantile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * min(max(fraction, 0.0), 1.0)
    below = int(math.floor(position))
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def calibrate(
    judged: list[tuple[float, float]], *, target: float, previous: Calibration = UNCALIBRATED
) -> Calibration:
    """Factors around the expected wait such that `target` of the judged estimates
    (expected seconds, actual seconds) would have been called inside the range as shown."""
    recent = [(e, a) for e, a in judged[-CALIBRATION_SAMPLES:] if e > 0 and a >= 0]
    if len(recent) < MIN_CALIBRATION_SAMPLES:
        return previous
    ratios = sorted(a / e for e, a in recent)
    best: tuple[float, float, float, float] | None = None  # (distance, level, low, high)
    for step in range(0, 100):
        level = 0.30 + step * 0.007
        low = _quantile(ratios, (1 - level) / 2)
        high = max(_quantile(ratios, (1 + level) / 2), low + 0.01)
        inside = 0
        for expected, actual in recent:
            lo, hi = _round_range(expected * low, expected * high)
            inside += lo * 60 <= actual <= hi * 60
        coverage = inside / len(recent)
        distance = abs(coverage - target)
        if best is None or distance < best[0] - 1e-9:
            best = (distance, coverage, low, high)
    assert best is not None
    return Calibration(best[2], best[3], len(recent), best[1])
