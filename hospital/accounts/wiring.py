"""Connect accounts to the application: the session loader, the sign-in template and jobs."""

from __future__ import annotations

from flask import Flask

from hospital.accounts import jobs, sessions
from hospital.accounts.services import sign_in
from hospital.extensions import login_manager
from hospital.jobs import register_jobs
from hospital.notifications.messages import register_templates


def connect(app: Flask) -> None:
    """Connect accounts' session loader, templates and jobs; a second call changes nothing."""
    login_manager.user_loader(sessions.load_signed_in_account)
    register_templates(sign_in.MESSAGE_TEMPLATES)
    register_jobs(jobs.JOBS)
