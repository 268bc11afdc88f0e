"""Scheduled kiosk work: lapse unpaid walk-ins, forget old activity rows."""

from __future__ import annotations

from datetime import datetime

from hospital.jobs import Job
from kiosk.services import throttle, walk_ins


def prune(*, now: datetime) -> int:
    """Delete kiosk activity older than a day (the limits look back a minute)."""
    return throttle.prune(now=now)


def expire_walk_ins(*, now: datetime) -> int:
    """Void the orders of walk-ins not paid in time (the kiosk also decides it at read time)."""
    return walk_ins.expire_walk_ins(now=now)


JOBS = (
    Job("kiosk.prune", prune, "interval", {"hours": 1}),
    Job("kiosk.expire_walk_ins", expire_walk_ins, "interval", {"minutes": 1}),
)
