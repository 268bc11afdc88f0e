"""Connect notifications to the application: the outbox delivery job."""

from __future__ import annotations

from flask import Flask

from hospital.jobs import register_jobs
from hospital.notifications import jobs


def connect(app: Flask) -> None:
    """Connect the notifications' jobs; a second call changes nothing."""
    register_jobs(jobs.JOBS)
