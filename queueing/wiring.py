"""Connect queueing to the application: its signal receivers, message templates and jobs."""

from __future__ import annotations

from flask import Flask

from hospital import events
from hospital.jobs import register_jobs
from hospital.metrics import add_sampler
from hospital.notifications.messages import register_templates
from queueing import jobs
from queueing.metrics import queue_figures
from queueing.services import notify, stations, surveys


def connect(app: Flask) -> None:
    """Connect queueing's receivers, templates, jobs and metrics; a second call changes nothing."""
    # A paid order issues its station numbers; a refunded one cancels those still waiting.
    events.order_paid.connect(stations.on_order_paid)
    events.refund_issued.connect(stations.on_refund_issued)
    register_templates(notify.MESSAGE_TEMPLATES)
    register_templates(surveys.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
    add_sampler(app, queue_figures)
