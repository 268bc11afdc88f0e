"""Scheduled work: each package's jobs.py registers plain functions here.

Jobs are plain functions `fn(now)` run inside an app context and a unit of work, so tests call
them directly. `hospital scheduler` runs every registered job in one APScheduler process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JobFunction = Callable[[datetime], Any]


@dataclass(frozen=True)
class Job:
    id: str
    func: JobFunction
    trigger: str  # "interval" or "cron"
    trigger_args: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, Job] = {}


def register_job(id: str, func: JobFunction, trigger: str, **trigger_args: Any) -> None:
    REGISTRY[id] = Job(id, func, trigger, trigger_args)


def job(id: str, trigger: str, **trigger_args: Any) -> Callable[[JobFunction], JobFunction]:
    def decorate(func: JobFunction) -> JobFunction:
        register_job(id, func, trigger, **trigger_args)
        return func

    return decorate
