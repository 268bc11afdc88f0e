"""Intake: store incoming results as reports, amend them, and schedule their release."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Device
from hospital.billing.services.queries import order_id_named
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.organisation.models import Hospital
from hospital.patients.models import Patient
from hospital.zones import zone_for
from reports.models import (
    AbnormalFlag,
    LabReport,
    LabReportItem,
    LabReportVersion,
    ReportSource,
    ReportStatus,
)
from reports.release import ReleaseRule, release_due_at
from reports.results import IncomingReport
from reports.services.audit import audit_report
from reports.services.release import RenderFailed, release
from reports.services.test_types import test_type_for

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def _patient_by_mrn(hospital_id: int, mrn: str) -> Patient:
    patient = db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == hospital_id, Patient.medical_record_number == mrn
        )
    )
    if patient is None:
        raise InvalidInput(
            _l(
                "No patient has the medical record number %(mrn)s in this hospital. "
                "Check the number; nothing was stored.",
                mrn=mrn[:20],
            ),
            code=ErrorCode.UNKNOWN_MEDICAL_RECORD_NUMBER,
        )
    return patient


def _new_report_number(hospital: Hospital, *, now: datetime) -> str:
    day = now.astimezone(zone_for(hospital)).strftime("%Y%m%d")
    while True:
        number = f"R{day}{secrets.randbelow(10**6):06d}"
        taken = db.session.scalar(
            sa.select(LabReport.id).where(
                LabReport.hospital_id == hospital.id, LabReport.report_number == number
            )
        )
        if taken is None:
            return number


def _add_version(
    report: LabReport,
    incoming: IncomingReport,
    *,
    number: int,
    actor: Account | None,
    device: Device | None,
    reason: str,
    now: datetime,
) -> LabReportVersion:
    document = incoming.document
    if document is not None and len(document.data) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            _l("The attached document is larger than 10 MB."), code=ErrorCode.DOCUMENT_TOO_LARGE
        )
    version = LabReportVersion(
        hospital_id=report.hospital_id,
        version=number,
        created_at=now,
        created_by_account_id=actor.id if actor else None,
        created_by_device_id=device.id if device else None,
        amendment_reason=reason[:500],
        observed_at=incoming.observed_at,
        signed_by=incoming.signed_by[:100],
        conclusion=incoming.conclusion,
        document=document.data if document else None,
        document_type=document.content_type if document else "",
        document_sha256=hashlib.sha256(document.data).hexdigest() if document else "",
        verification_code=secrets.token_urlsafe(12),
    )
    version.items = [
        LabReportItem(
            hospital_id=report.hospital_id,
            position=i,
            code=item.code[:40],
            name=item.name[:200],
            value=item.value[:200],
            unit=item.unit[:40],
            reference_range=item.reference_range[:80],
            flag=AbnormalFlag(item.flag) if item.flag else None,
        )
        for i, item in enumerate(incoming.items, start=1)
    ]
    report.versions.append(version)
    report.current_version = number
    return version


def _schedule_release(report: LabReport, *, now: datetime) -> None:
    test_type = test_type_for(report.hospital_id, report.test_code)
    delay = test_type.release_delay_minutes if test_type else 0
    report.release_due_at = release_due_at(report.release_rule, delay, now)
    if report.release_due_at is not None and report.release_due_at <= now:
        try:
            # A savepoint: a render that fails or times out leaves the results stored and
            # unreleased (the release job retries), never half-released.
            with db.session.begin_nested():
                release(report, now=now)
        except RenderFailed:
            db.session.refresh(report)


def _same_content(version: LabReportVersion, incoming: IncomingReport) -> bool:
    document_sha = hashlib.sha256(incoming.document.data).hexdigest() if incoming.document else ""
    items = [
        (i.code, i.name, i.value, i.unit, i.reference_range, i.flag.value if i.flag else None)
        for i in version.items
    ]
    offered = [
        (i.code[:40], i.name[:200], i.value[:200], i.unit[:40], i.reference_range[:80], i.flag)
        for i in incoming.items
    ]
    return (
        items == offered
        and version.document_sha256 == document_sha
        and version.conclusion == incoming.conclusion
        and version.signed_by == incoming.signed_by[:100]
    )


def receive_results(
    hospital: Hospital,
    incoming: list[IncomingReport],
    *,
    source: ReportSource,
    now: datetime,
    actor: Account | None = None,
    device: Device | None = None,
) -> list[LabReport]:
    """Store every incoming report (all or nothing) and release those whose rule allows it.

    A report for an order that already has one (same patient, order and test) is an amendment.
    """
    if not incoming:
        raise InvalidInput(_l("The message holds no report."), code=ErrorCode.NO_REPORT)
    stored: list[LabReport] = []
    for entry in incoming:
        patient = _patient_by_mrn(hospital.id, entry.medical_record_number)
        existing = None
        if entry.order_reference:
            existing = db.session.scalar(
                sa.select(LabReport).where(
                    LabReport.hospital_id == hospital.id,
                    LabReport.patient_id == patient.id,
                    LabReport.order_reference == entry.order_reference,
                    LabReport.test_code == entry.test_code,
                )
            )
        if existing is not None and _same_content(existing.current, entry):
            stored.append(existing)  # a retried delivery: nothing new to issue
            continue
        if existing is not None:
            stored.append(
                amend(
                    existing,
                    entry,
                    reason=str(_l("Corrected result from the laboratory")),
                    now=now,
                    actor=actor,
                    device=device,
                )
            )
            continue
        test_type = test_type_for(hospital.id, entry.test_code)
        report = LabReport(
            hospital_id=hospital.id,
            public_id=secrets.token_urlsafe(16),
            report_number=_new_report_number(hospital, now=now),
            patient_id=patient.id,
            test_code=entry.test_code,
            test_name=entry.test_name
            or (test_type.name_zh if test_type else "")
            or entry.test_code,
            order_reference=entry.order_reference,
            billing_order_id=order_id_named(hospital.id, patient.id, entry.order_reference),
            source=source,
            status=ReportStatus.ORDERED,
            # Unknown tests wait for a clinician: a sensitive result must never slip out.
            release_rule=test_type.release_rule if test_type else ReleaseRule.CLINICIAN,
            received_at=now,
            current_version=1,
        )
        db.session.add(report)
        _add_version(report, entry, number=1, actor=actor, device=device, reason="", now=now)
        db.session.flush()
        audit_report(
            report,
            "report.received",
            actor=actor,
            device=device,
            detail={"source": source.value, "test": report.test_code},
        )
        _schedule_release(report, now=now)
        stored.append(report)
    db.session.flush()
    return stored


def amend(
    report: LabReport,
    incoming: IncomingReport,
    *,
    reason: str,
    now: datetime,
    actor: Account | None = None,
    device: Device | None = None,
) -> LabReport:
    """Add a corrected version; every earlier version stays as it was issued."""
    if not reason.strip():
        raise InvalidInput(
            _l("Say why the report is amended."), code=ErrorCode.AMENDMENT_REASON_REQUIRED
        )
    _add_version(
        report,
        incoming,
        number=report.current_version + 1,
        actor=actor,
        device=device,
        reason=reason.strip(),
        now=now,
    )
    db.session.flush()
    audit_report(
        report,
        "report.amended",
        actor=actor,
        device=device,
        detail={"version": report.current_version},
    )
    _schedule_release(report, now=now)
    return report
