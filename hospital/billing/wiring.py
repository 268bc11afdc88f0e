"""Connect billing to the application: its jobs.

Billing's signal receivers and message templates still connect when their modules are
imported (hospital/billing/services/receivers.py, refunds.py); they move here with billing's
own rework.
"""

from __future__ import annotations

from flask import Flask

from hospital.billing import jobs
from hospital.jobs import register_jobs


def connect(app: Flask) -> None:
    """Connect billing's jobs; a second call changes nothing."""
    register_jobs(jobs.JOBS)
