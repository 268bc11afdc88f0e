"""Waiting-time estimates from recent service times: pure, no Flask and no database."""

from __future__ import annotations

import math
import statistics
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
