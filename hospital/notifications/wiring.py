"""Connect notifications to the application: the outbox delivery job."""

from __future__ import annotations

from flask import Flask

from hospital.jobs import register_jobs
from hospital.metrics import add_sampler
from hospital.notifications import jobs
from hospital.notifications.metrics import outbox_figures


def connect(app: Flask) -> None:
    """Connect the notifications' jobs and outbox figures; a second call changes nothing."""
    register_jobs(jobs.JOBS)
    add_sampler(app, outbox_figures)
