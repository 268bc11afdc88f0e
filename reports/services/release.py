"""Release: issue a version's PDF, publish it and notify the patient and family."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital import events
from hospital.accounts.models import Account, Role
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, DomainError, Forbidden
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify_patient
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.pdf import PdfRenderError
from reports import printing
from reports.models import LabReport, LabReportVersion, ReportStatus
from reports.services.audit import audit_report

log = logging.getLogger("reports")

MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    "reports.ready": MessageTemplate(
        subject=_l("Your report is ready"),
        # No test name or value: a text message may be read by anyone holding the phone.
        body=_l("Report {report_number} for {patient} is ready. View it at {url}"),
    ),
    "reports.amended": MessageTemplate(
        subject=_l("A report was corrected"),
        body=_l(
            "Report {report_number} for {patient} was corrected. "
            "The earlier version is kept. View it at {url}"
        ),
    ),
}


class RenderFailed(DomainError):
    status = 503
    code = ErrorCode.REPORT_RENDER_FAILED


def verification_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reports/verify/{code}"


def report_url(report: LabReport) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reports/{report.public_id}"


def issue_pdf(report: LabReport, version: LabReportVersion, *, now: datetime) -> None:
    """Render and store the version's PDF and its SHA-256 (bounded in time)."""
    hospital = db.session.get_one(Hospital, report.hospital_id)
    patient = db.session.get_one(Patient, report.patient_id)
    html = printing.report_html(
        report,
        version,
        hospital=hospital,
        patient=patient,
        verify_url=verification_url(version.verification_code),
        issued_at=now,
    )
    try:
        pdf = printing.render_report_pdf(html)
    except PdfRenderError as exc:
        log.error("report %s: %s", report.report_number, exc)
        raise RenderFailed(
            _l("The report could not be rendered just now. It stays unreleased; try again."),
        ) from exc
    version.pdf = pdf
    version.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    version.issued_at = now


def release(report: LabReport, *, now: datetime, actor: Account | None = None) -> LabReport:
    """Publish the newest version: issue its PDF, and notify the patient and family with view rights."""
    if report.released_version == report.current_version:
        return report
    version = report.current
    issue_pdf(report, version, now=now)
    amended = report.released_version is not None
    report.released_version = version.version
    report.release_due_at = None
    report.released_at = now
    report.released_by_account_id = actor.id if actor else None
    report.status = ReportStatus.AMENDED if amended else ReportStatus.READY
    db.session.flush()
    audit_report(report, "report.released", actor=actor, detail={"version": version.version})
    if not amended:
        events.report_released.send(
            "reports",
            report_id=report.id,
            hospital_id=report.hospital_id,
            patient_id=report.patient_id,
            now=now,
        )
    patient = db.session.get_one(Patient, report.patient_id)
    notify_patient(
        patient,
        "reports.amended" if amended else "reports.ready",
        {
            "report_number": report.report_number,
            "patient": mask_name(patient.name),
            "url": report_url(report),
        },
        now=now,
        dedupe_key=f"report:{report.public_id}:v{version.version}",
        family_permission=Permission.VIEW_REPORTS,
    )
    return report


def release_by_clinician(report: LabReport, *, actor: Account, now: datetime) -> LabReport:
    if not actor.has_role(Role.CLINICIAN, Role.ADMIN):
        raise Forbidden(
            _l("Only a clinician may release this report."), code=ErrorCode.CLINICIAN_REQUIRED
        )
    if report.released_version == report.current_version:
        raise Conflict(_l("This report is already released."), code=ErrorCode.ALREADY_RELEASED)
    return release(report, now=now, actor=actor)


def release_due(*, now: datetime) -> int:
    """Release every report whose delay has passed; a report that fails to render waits."""
    due = db.session.scalars(
        sa.select(LabReport)
        .where(LabReport.release_due_at.is_not(None), LabReport.release_due_at <= now)
        .order_by(LabReport.release_due_at)
        .limit(200)
    ).all()
    released = 0
    for report in due:
        try:
            with db.session.begin_nested():
                release(report, now=now)
            released += 1
        except RenderFailed:
            continue
    return released
