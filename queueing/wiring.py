"""Connect queueing to the application: its message templates and jobs."""

from __future__ import annotations

from flask import Flask

from hospital.jobs import register_jobs
from hospital.metrics import add_sampler
from hospital.notifications.messages import register_templates
from queueing import jobs
from queueing.metrics import queue_figures
from queueing.services import notify


def connect(app: Flask) -> None:
    """Connect queueing's templates, jobs and metrics; a second call changes nothing."""
    register_templates(notify.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
    add_sampler(app, queue_figures)
