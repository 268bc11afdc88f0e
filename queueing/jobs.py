"""Scheduled queue work: open the day's queues, return lapsed leases, track wait estimates."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from hospital.jobs import Job
from queueing.services import accuracy, calling, queues


def open_todays_queues(*, now: datetime) -> int:
    """Open a queue for every active service point for its local service day."""
    return queues.open_todays_queues(now=now)


def release_expired_leases(*, now: datetime) -> int:
    """Put called tickets nobody started within the lease back in line."""
    return calling.release_expired_leases(now=now)


def track_wait_estimates(*, now: datetime) -> int:
    """Record the wait ranges patients see, judge those of called tickets, refit calibrations."""
    return accuracy.track_wait_estimates(
        now=now, target=float(current_app.config["QUEUE_ETA_TARGET_COVERAGE"])
    )


JOBS = (
    Job("queueing.open_todays_queues", open_todays_queues, "interval", {"minutes": 15}),
    Job("queueing.release_expired_leases", release_expired_leases, "interval", {"seconds": 15}),
    Job("queueing.track_wait_estimates", track_wait_estimates, "interval", {"seconds": 15}),
)
