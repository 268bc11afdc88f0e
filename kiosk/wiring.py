"""Connect the kiosk to the application: its signal receiver, message template and jobs."""

from __future__ import annotations

from flask import Flask

from hospital import events
from hospital.jobs import register_jobs
from hospital.notifications.messages import register_templates
from kiosk import jobs
from kiosk.services import identity, walk_ins


def connect(app: Flask) -> None:
    """Connect the kiosk's receiver, template and jobs; a second call changes nothing."""
    events.order_paid.connect(walk_ins.on_order_paid)
    events.refund_issued.connect(walk_ins.on_refund_issued)
    register_templates(identity.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
