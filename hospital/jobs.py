"""Scheduled work: each package's jobs.py lists its plain functions; its connect() registers them.

Jobs are plain functions `fn(*, now)` run inside an app context and a unit of work, so tests call
them directly. `hospital scheduler` runs every registered job in one APScheduler process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class JobFunction(Protocol):
    """A job: `now` is passed by keyword, like every service's."""

    def __call__(self, *, now: datetime) -> Any: ...


@dataclass(frozen=True)
class Job:
    id: str
    func: JobFunction
    trigger: str  # "interval" or "cron"
    trigger_args: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, Job] = {}


def register_jobs(jobs: Iterable[Job]) -> None:
    """Make jobs known to the scheduler; registering the same ones again changes nothing."""
    for job in jobs:
        known = REGISTRY.get(job.id)
        if known is not None and known != job:
            raise ValueError(
                f"job {job.id!r} is already registered with another function or trigger"
            )
        REGISTRY[job.id] = job
