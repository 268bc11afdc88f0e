"""Reading: who may see a report, opening it, and the lists of reports an account sees."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.patients.access import (
    Permission,
    can_act_for,
    patients_acting_for,
    require_patient_access,
    staff_grants,
)
from hospital.patients.models import Patient
from reports.models import LabReport, LabReportVersion, ReportStatus
from reports.services.audit import audit_report


def is_staff_reader(*, account: Account) -> bool:
    """Staff whose role needs reports (lab, clinician, admin) see unreleased versions too."""
    return staff_grants(account, Permission.VIEW_REPORTS)


def find_report(public_id: str, *, account: Account, action: str) -> LabReport:
    """The report, if this account may see it; otherwise NotFound (audited), never a hint."""
    report = None
    if 10 <= len(public_id) <= 32:
        report = db.session.scalar(
            sa.select(LabReport).where(
                LabReport.public_id == public_id, LabReport.hospital_id == account.hospital_id
            )
        )
    missing = NotFound(
        _l("No report with this address is available to your account."),
        code=ErrorCode.REPORT_NOT_FOUND,
    )
    if report is None:
        record(
            action=action,
            outcome=Outcome.DENIED,
            actor=account,
            object_type="lab_report",
            object_id=str(public_id)[:64],
            detail={"reason": "unknown"},
        )
        raise missing
    try:
        require_patient_access(account, report.patient_id, Permission.VIEW_REPORTS, action=action)
    except NotFound:
        raise missing from None
    if not is_staff_reader(account=account) and report.released_version is None:
        raise missing
    return report


def visible_versions(report: LabReport, *, account: Account) -> list[LabReportVersion]:
    if is_staff_reader(account=account):
        return sorted(report.versions, key=lambda v: -v.version)
    return report.released_versions


def open_report(public_id: str, *, account: Account, now: datetime) -> LabReport:
    """Show a report: staff reads are audited; a patient or family read marks it viewed."""
    report = find_report(public_id, account=account, action="report.read")
    audit_report(report, "report.read", actor=account)
    if not is_staff_reader(account=account):
        mark_viewed(report, now=now)
    return report


def mark_viewed(report: LabReport, *, now: datetime) -> None:
    """The patient or family opened it: one trip to the report window saved (counted once)."""
    if report.status in (ReportStatus.READY, ReportStatus.AMENDED):
        report.status = ReportStatus.VIEWED
        report.viewed_at = now
    if report.first_viewed_at is None:
        report.first_viewed_at = now
    db.session.flush()


def reports_for(*, account: Account) -> list[LabReport]:
    """Released reports of the patients this account may see reports for (own and family)."""
    patients = patients_acting_for(account, Permission.VIEW_REPORTS)
    if not patients:
        return []
    return list(
        db.session.scalars(
            sa.select(LabReport)
            .where(
                LabReport.patient_id.in_([p.id for p in patients]),
                LabReport.released_version.is_not(None),
            )
            .order_by(LabReport.released_at.desc(), LabReport.id.desc())
        )
    )


def staff_search(medical_record_number: str, *, account: Account) -> list[LabReport]:
    """Staff: every report of one patient (the search itself is audited)."""
    patient = db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == account.hospital_id,
            Patient.medical_record_number == medical_record_number,
        )
    )
    if patient is None or not can_act_for(account, patient, Permission.VIEW_REPORTS):
        raise NotFound(
            _l("No patient with this medical record number."), code=ErrorCode.PATIENT_NOT_FOUND
        )
    record(
        action="report.search",
        actor=account,
        object_type="patient",
        object_id=str(patient.id),
        patient_id=patient.id,
        hospital_id=account.hospital_id,
    )
    return list(
        db.session.scalars(
            sa.select(LabReport)
            .where(LabReport.patient_id == patient.id)
            .order_by(LabReport.received_at.desc())
        )
    )


def reports_of_visit(
    hospital_id: int, patient_id: int, *, order_ids: list[int], start: datetime, end: datetime
) -> list[LabReport]:
    """The patient's reports of one visit: of its orders, or received that day."""
    named: sa.ColumnElement[bool] = LabReport.received_at.between(start, end)
    if order_ids:
        named = sa.or_(named, LabReport.billing_order_id.in_(order_ids))
    return list(
        db.session.scalars(
            sa.select(LabReport)
            .where(LabReport.hospital_id == hospital_id, LabReport.patient_id == patient_id, named)
            .order_by(LabReport.received_at, LabReport.id)
        )
    )
