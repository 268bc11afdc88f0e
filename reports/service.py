"""Report intake, release, amendment, reading and downloads: the only writer of report tables."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Device, Role
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.billing.models import Order
from hospital.db import db
from hospital.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from hospital.notifications.messages import register_template
from hospital.notifications.service import notify_patient
from hospital.organisation.models import Hospital
from hospital.patients.access import (
    Permission,
    can_act_for,
    patients_acting_for,
    require_patient_access,
    staff_grants,
)
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.pdf import PdfRenderError
from reports import printing
from reports.models import (
    AbnormalFlag,
    LabReport,
    LabReportItem,
    LabReportVersion,
    ReportSource,
    ReportStatus,
    TestType,
)
from reports.release import ReleaseRule, release_due_at
from reports.results import IncomingReport

log = logging.getLogger("reports")

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

register_template(
    "reports.ready",
    subject=_l("Your report is ready"),
    # No test name or value: a text message may be read by anyone holding the phone.
    body=_l("Report {report_number} for {patient} is ready. View it at {url}"),
)
register_template(
    "reports.amended",
    subject=_l("A report was corrected"),
    body=_l(
        "Report {report_number} for {patient} was corrected. "
        "The earlier version is kept. View it at {url}"
    ),
)


class RenderFailed(DomainError):
    status = 503
    code = "report_render_failed"


# ---- lookups -----------------------------------------------------------------------------


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
            code="unknown_medical_record_number",
        )
    return patient


def _billing_order_id(hospital_id: int, patient_id: int, reference: str) -> int | None:
    """The patient's billing order named by the lab's order number ("order:<id>" or its reference)."""
    if not reference:
        return None
    named = Order.reference == reference
    kind, _, number = reference.partition(":")
    if kind == "order" and number.isdigit() and len(number) < 12:
        named = sa.or_(named, Order.id == int(number))
    return db.session.scalar(
        sa.select(Order.id).where(
            Order.hospital_id == hospital_id, Order.patient_id == patient_id, named
        )
    )


def test_type_for(hospital_id: int, code: str) -> TestType | None:
    return db.session.scalar(
        sa.select(TestType).where(TestType.hospital_id == hospital_id, TestType.code == code)
    )


def _new_report_number(hospital: Hospital, now: datetime) -> str:
    day = now.astimezone(ZoneInfo(hospital.timezone)).strftime("%Y%m%d")
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
            _l("The attached document is larger than 10 MB."), code="document_too_large"
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


def _audit(
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


def _schedule_release(report: LabReport, now: datetime) -> None:
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


# ---- intake --------------------------------------------------------------------------------


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
        raise InvalidInput(_l("The message holds no report."), code="no_report")
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
            report_number=_new_report_number(hospital, now),
            patient_id=patient.id,
            test_code=entry.test_code,
            test_name=entry.test_name
            or (test_type.name_zh if test_type else "")
            or entry.test_code,
            order_reference=entry.order_reference,
            billing_order_id=_billing_order_id(hospital.id, patient.id, entry.order_reference),
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
        _audit(
            report,
            "report.received",
            actor=actor,
            device=device,
            detail={"source": source.value, "test": report.test_code},
        )
        _schedule_release(report, now)
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
        raise InvalidInput(_l("Say why the report is amended."), code="amendment_reason_required")
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
    _audit(
        report,
        "report.amended",
        actor=actor,
        device=device,
        detail={"version": report.current_version},
    )
    _schedule_release(report, now)
    return report


# ---- release -------------------------------------------------------------------------------


def verification_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reports/verify/{code}"


def report_url(report: LabReport) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reports/{report.public_id}"


def issue_pdf(report: LabReport, version: LabReportVersion, *, now: datetime) -> None:
    """Render and store the version's PDF and its SHA-256 (bounded in time)."""
    hospital = db.session.get(Hospital, report.hospital_id)
    patient = db.session.get(Patient, report.patient_id)
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
    _audit(report, "report.released", actor=actor, detail={"version": version.version})
    patient = db.session.get(Patient, report.patient_id)
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
        raise Forbidden(_l("Only a clinician may release this report."), code="clinician_required")
    if report.released_version == report.current_version:
        raise Conflict(_l("This report is already released."), code="already_released")
    return release(report, now=now, actor=actor)


def release_due(now: datetime) -> int:
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


# ---- reading -------------------------------------------------------------------------------


def _is_staff_reader(account: Account) -> bool:
    """Staff whose role needs reports (lab, clinician, admin) see unreleased versions too."""
    return staff_grants(account, Permission.VIEW_REPORTS)


def find_report(account: Account, public_id: Any, *, action: str) -> LabReport:
    """The report, if this account may see it; otherwise NotFound (audited), never a hint."""
    report = None
    if isinstance(public_id, str) and 10 <= len(public_id) <= 32:
        report = db.session.scalar(
            sa.select(LabReport).where(
                LabReport.public_id == public_id, LabReport.hospital_id == account.hospital_id
            )
        )
    missing = NotFound(
        _l("No report with this address is available to your account."), code="report_not_found"
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
    if not _is_staff_reader(account) and report.released_version is None:
        raise missing
    return report


def visible_versions(account: Account, report: LabReport) -> list[LabReportVersion]:
    if _is_staff_reader(account):
        return sorted(report.versions, key=lambda v: -v.version)
    return report.released_versions


def open_report(account: Account, public_id: Any, *, now: datetime) -> LabReport:
    """Show a report: staff reads are audited; a patient or family read marks it viewed."""
    report = find_report(account, public_id, action="report.read")
    _audit(report, "report.read", actor=account)
    if not _is_staff_reader(account):
        _mark_viewed(report, now)
    return report


def _mark_viewed(report: LabReport, now: datetime) -> None:
    """The patient or family opened it: one trip to the report window saved (counted once)."""
    if report.status in (ReportStatus.READY, ReportStatus.AMENDED):
        report.status = ReportStatus.VIEWED
        report.viewed_at = now
    if report.first_viewed_at is None:
        report.first_viewed_at = now
    db.session.flush()


def reports_for(account: Account) -> list[LabReport]:
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


def staff_search(account: Account, medical_record_number: str) -> list[LabReport]:
    """Staff: every report of one patient (the search itself is audited)."""
    patient = db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == account.hospital_id,
            Patient.medical_record_number == medical_record_number,
        )
    )
    if patient is None or not can_act_for(account, patient, Permission.VIEW_REPORTS):
        raise NotFound(_l("No patient with this medical record number."), code="patient_not_found")
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


@dataclass(frozen=True)
class Download:
    content: bytes
    filename: str
    mimetype: str


def _pick_version(account: Account, report: LabReport, version: Any) -> LabReportVersion:
    versions = visible_versions(account, report)
    if version is None:
        chosen = next((v for v in versions if v.pdf_sha256 or _is_staff_reader(account)), None)
    else:
        chosen = next((v for v in versions if v.version == version), None)
    if chosen is None:
        raise NotFound(_l("This version of the report does not exist."), code="version_not_found")
    return chosen


def _check_integrity(
    account: Account,
    report: LabReport,
    version: LabReportVersion,
    data: bytes | None,
    stored: str,
    what: str,
) -> bytes:
    if data is None or not stored:
        raise NotFound(_l("This report has no such file yet."), code="file_not_issued")
    if hashlib.sha256(data).hexdigest() != stored:
        log.error(
            "integrity check failed: report %s version %s %s",
            report.report_number,
            version.version,
            what,
        )
        _audit(
            report,
            "report.download",
            outcome=Outcome.FAILED,
            actor=account,
            detail={"version": version.version, "file": what, "reason": "sha256_mismatch"},
        )
        raise Conflict(
            _l(
                "This file failed its integrity check and was not sent. "
                "The hospital has been alerted; please contact the laboratory."
            ),
            code="report_integrity_failed",
        )
    return data


def download(
    account: Account, public_id: Any, *, version: int | None, document: bool, now: datetime
) -> Download:
    """The issued PDF (or the attached document) of a version, after checking its SHA-256."""
    report = find_report(account, public_id, action="report.download")
    chosen = _pick_version(account, report, version)
    if document:
        data = _check_integrity(
            account, report, chosen, chosen.document, chosen.document_sha256, "document"
        )
        filename = f"report-{report.report_number}-v{chosen.version}-attachment.pdf"
    else:
        data = _check_integrity(account, report, chosen, chosen.pdf, chosen.pdf_sha256, "pdf")
        filename = f"report-{report.report_number}-v{chosen.version}.pdf"
    _audit(
        report,
        "report.download",
        actor=account,
        detail={"version": chosen.version, "file": "document" if document else "pdf"},
    )
    if not _is_staff_reader(account):
        _mark_viewed(report, now)
    return Download(data, filename, "application/pdf")


# ---- public verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    hospital_name_zh: str
    hospital_name_en: str
    report_number: str
    issued_at: datetime
    timezone: str
    superseded: bool
    stored_copy_intact: bool
    matches: bool | None  # None when nothing was offered to compare


def verify(
    code: Any, *, offered_sha256: str | None = None, offered_file: bytes | None = None
) -> Verification:
    """What the QR page may say: hospital, report number, issue date, and whether the hash matches."""
    version = None
    if isinstance(code, str) and 8 <= len(code) <= 32:
        version = db.session.scalar(
            sa.select(LabReportVersion).where(LabReportVersion.verification_code == code)
        )
    if version is None or version.issued_at is None:
        raise NotFound(
            _l("No issued report has this verification code."), code="verification_not_found"
        )
    report = version.report
    hospital = db.session.get(Hospital, report.hospital_id)
    stored = version.pdf_sha256
    intact = version.pdf is not None and hashlib.sha256(version.pdf).hexdigest() == stored
    matches: bool | None = None
    if offered_file is not None:
        matches = intact and hashlib.sha256(offered_file).hexdigest() == stored
    elif offered_sha256:
        matches = intact and offered_sha256.strip().lower() == stored
    return Verification(
        hospital_name_zh=hospital.name_zh,
        hospital_name_en=hospital.name_en,
        report_number=report.report_number,
        issued_at=version.issued_at,
        timezone=hospital.timezone,
        superseded=(report.released_version or 0) > version.version,
        stored_copy_intact=intact,
        matches=matches,
    )


# ---- test types ------------------------------------------------------------------------------


def save_test_type(
    hospital_id: int,
    code: str,
    *,
    name_zh: str,
    name_en: str,
    release_rule: ReleaseRule,
    release_delay_minutes: int,
    actor: Account,
) -> TestType:
    test_type = test_type_for(hospital_id, code)
    if test_type is None:
        test_type = TestType(hospital_id=hospital_id, code=code)
        db.session.add(test_type)
    test_type.name_zh = name_zh
    test_type.name_en = name_en
    test_type.release_rule = release_rule
    test_type.release_delay_minutes = release_delay_minutes
    db.session.flush()
    record(
        action="report.test_type_saved",
        actor=actor,
        object_type="report_test_type",
        object_id=code,
        hospital_id=hospital_id,
        detail={"rule": release_rule.value, "delay": release_delay_minutes},
    )
    return test_type
