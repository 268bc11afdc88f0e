"""Scheduled queue work: open the day's queues, return called tickets whose lease ran out."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import Job
from queueing.services import calling, queues


def open_todays_queues(now: datetime) -> int:
    """Open a queue for every active service point for its local service day."""
    return queues.open_todays_queues(now)


def release_expired_leases(now: datetime) -> int:
    """Put called tickets nobody started within the lease back in line."""
    return calling.release_expired_leases(now)


JOBS = (
    Job("queueing.open_todays_queues", open_todays_queues, "interval", {"minutes": 15}),
    Job("queueing.release_expired_leases", release_expired_leases, "interval", {"seconds": 15}),
)
