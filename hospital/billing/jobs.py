"""Scheduled billing work: reconciliation, refund retries, sandbox deliveries and clean-up.

Each job runs inside the unit of work the scheduler opens (see hospital/scheduler.py).
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from hospital.billing.providers.registry import enabled_provider_names, payment_provider
from hospital.billing.providers.sandbox import SandboxProvider, Transport
from hospital.billing.services import insured, refunds, settlement
from hospital.jobs import Job


def reconcile_pending_payments(*, now: datetime) -> int:
    return settlement.reconcile_pending_payments(now=now)


def retry_pending_refunds(*, now: datetime) -> int:
    return refunds.retry_pending_refunds(now=now)


def forget_expired_insurance_codes(*, now: datetime) -> int:
    """Delete the sandbox insurer's codes a day after they expired (a batch a run)."""
    return insured.forget_expired_codes(now=now)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    import requests

    response = requests.post(url, data=body, headers=headers, timeout=10)
    return response.status_code, response.text


def deliver_sandbox_notifications(transport: Transport | None = None, *, now: datetime) -> int:
    """Play the sandbox provider: post its signed notifications to our notify endpoint."""
    if "sandbox" not in enabled_provider_names(current_app.config):
        return 0
    provider = payment_provider("sandbox", current_app.config)
    assert isinstance(provider, SandboxProvider)
    return provider.deliver_due(transport or _post, now=now)


JOBS = (
    Job(
        "billing.reconcile_pending_payments", reconcile_pending_payments, "interval", {"minutes": 1}
    ),
    Job("billing.retry_pending_refunds", retry_pending_refunds, "interval", {"minutes": 1}),
    Job(
        "billing.deliver_sandbox_notifications",
        deliver_sandbox_notifications,
        "interval",
        {"seconds": 5},
    ),
    Job(
        "billing.forget_expired_insurance_codes",
        forget_expired_insurance_codes,
        "interval",
        {"minutes": 10},
    ),
)
