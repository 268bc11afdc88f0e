"""Connect scheduling to the application: its signal receivers, message templates and jobs."""

from __future__ import annotations

from flask import Flask

from hospital import events
from hospital.jobs import register_jobs
from hospital.notifications.messages import register_templates
from hospital.web.page_slots import STATISTICS_SECTIONS
from scheduling import jobs, notices
from scheduling.pages import waitlist_statistics
from scheduling.services import booking, keep_or_release, offers


def connect(app: Flask) -> None:
    """Connect scheduling's receivers, templates and jobs; a second call changes nothing."""
    events.order_paid.connect(booking.on_order_paid)
    events.appointment_cancelled.connect(offers.on_appointment_cancelled)
    events.appointment_booked.connect(offers.on_appointment_booked)
    register_templates(notices.MESSAGE_TEMPLATES)
    register_templates(offers.MESSAGE_TEMPLATES)
    register_templates(keep_or_release.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
    STATISTICS_SECTIONS.add(
        "scheduling.waitlist", waitlist_statistics.render_waitlist_statistics, order=50
    )
