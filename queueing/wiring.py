"""Connect queueing to the application: its message templates and jobs."""

from __future__ import annotations

from flask import Flask

from hospital.jobs import register_jobs
from hospital.notifications.messages import register_templates
from queueing import jobs
from queueing.services import notify


def connect(app: Flask) -> None:
    """Connect queueing's templates and jobs; a second call changes nothing."""
    register_templates(notify.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
