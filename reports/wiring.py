"""Connect reports to the application: the statistics receivers, message templates and jobs."""

from __future__ import annotations

from flask import Flask

from hospital.jobs import register_jobs
from hospital.notifications.messages import register_templates
from reports import jobs, summary_feed, wait_accuracy
from reports.services import release


def connect(app: Flask) -> None:
    """Connect reports' receivers, templates and jobs; a second call changes nothing."""
    for signal, receiver in (*summary_feed.RECEIVERS, *wait_accuracy.RECEIVERS):
        signal.connect(receiver)
    register_templates(release.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
