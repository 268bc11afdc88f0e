"""Audit entries about a report."""

from __future__ import annotations

from typing import Any

from hospital.accounts.models import Account, Device
from hospital.audit.models import Outcome
from hospital.audit.service import record
from reports.models import LabReport


def audit_report(
    report: LabReport,
    action: str,
    *,
    actor: Account | None,
    device: Device | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write an audit entry about a report, named by its report number, for its patient."""
    record(
        action=action,
        outcome=outcome,
        actor=actor,
        device=device,
        object_type="lab_report",
        object_id=report.report_number,
        patient_id=report.patient_id,
        hospital_id=report.hospital_id,
        detail=detail,
    )
