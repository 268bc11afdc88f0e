"""Billing's one connection to the application: receivers, templates, jobs, pages it links to.

create_app calls connect(); nothing in billing connects as a side effect of being imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import Flask, current_app

from hospital.billing import jobs
from hospital.billing.references import OrderKind
from hospital.billing.services import accounts, insured, orders, receivers, refunds
from hospital.jobs import register_jobs
from hospital.notifications.messages import register_template
from hospital.patients.models import Patient
from hospital.patients.services import records

_EXTENSION = "hospital.billing"


def connect(app: Flask, *, after_payment: Mapping[OrderKind | str, str] | None = None) -> None:
    """Wire billing into app; safe to call again (another app, or the same one).

    after_payment: for a kind of order (an OrderKind or its value, e.g. "appointment"), the
    endpoint of the page, in the module that owns what was paid for, where a paid order's
    result page sends the patient on. Billing names no other module's pages itself.
    """
    receivers.connect()
    register_jobs(jobs.JOBS)
    for key, template in {
        **refunds.MESSAGE_TEMPLATES,
        **orders.MESSAGE_TEMPLATES,
        **accounts.MESSAGE_TEMPLATES,
        **insured.MESSAGE_TEMPLATES,
    }.items():
        register_template(key, subject=template.subject, body=template.body)
    # The registration desk accepts the medical-insurance code shown on a phone.
    records.accept_codes("insurance", _patient_for_insurance_code)
    pages = {OrderKind(kind): endpoint for kind, endpoint in (after_payment or {}).items()}
    app.extensions[_EXTENSION] = {"pages_after_payment": pages}


def page_after_payment(kind: OrderKind) -> str | None:
    """The endpoint a paid order of this kind leads on to, if the composition root gave one."""
    wired = current_app.extensions.get(_EXTENSION, {})
    return wired.get("pages_after_payment", {}).get(kind)


def _patient_for_insurance_code(
    hospital_id: int, text: str, place: str, *, now: datetime
) -> Patient | None:
    return insured.patient_for_code(hospital_id, text, place=place, now=now)
