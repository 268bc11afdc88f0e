"""Connect consultations to the application: the paid-fee receiver, templates, jobs, statistics."""

from __future__ import annotations

from flask import Flask

from consult import jobs, stats
from consult.services import asking, notices
from hospital import events
from hospital.jobs import register_jobs
from hospital.notifications.messages import register_templates
from hospital.web.page_slots import STATISTICS_SECTIONS


def connect(app: Flask) -> None:
    """Connect consult's receiver, templates and jobs; a second call changes nothing."""
    events.order_paid.connect(asking.on_order_paid)
    register_templates(notices.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
    STATISTICS_SECTIONS.add("consult.figures", stats.statistics_panel, order=60)
