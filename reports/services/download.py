"""Downloads: a version's issued PDF or attached document, after checking its SHA-256."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.models import Outcome
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, NotFound
from reports.models import LabReport, LabReportVersion
from reports.services.audit import audit_report
from reports.services.reading import find_report, is_staff_reader, mark_viewed, visible_versions

log = logging.getLogger("reports")


@dataclass(frozen=True)
class Download:
    content: bytes
    filename: str
    mimetype: str


def _pick_version(account: Account, report: LabReport, version: Any) -> LabReportVersion:
    versions = visible_versions(report, account=account)
    if version is None:
        chosen = next(
            (v for v in versions if v.pdf_sha256 or is_staff_reader(account=account)), None
        )
    else:
        chosen = next((v for v in versions if v.version == version), None)
    if chosen is None:
        raise NotFound(
            _l("This version of the report does not exist."), code=ErrorCode.VERSION_NOT_FOUND
        )
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
        raise NotFound(_l("This report has no such file yet."), code=ErrorCode.FILE_NOT_ISSUED)
    if hashlib.sha256(data).hexdigest() != stored:
        log.error(
            "integrity check failed: report %s version %s %s",
            report.report_number,
            version.version,
            what,
        )
        audit_report(
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
            code=ErrorCode.REPORT_INTEGRITY_FAILED,
        )
    return data


def download(
    public_id: str, *, account: Account, version: int | None, document: bool, now: datetime
) -> Download:
    """The issued PDF (or the attached document) of a version, after checking its SHA-256."""
    report = find_report(public_id, account=account, action="report.download")
    chosen = _pick_version(account, report, version)
    if document:
        data = _check_integrity(
            account, report, chosen, chosen.document, chosen.document_sha256, "document"
        )
        filename = f"report-{report.report_number}-v{chosen.version}-attachment.pdf"
    else:
        data = _check_integrity(account, report, chosen, chosen.pdf, chosen.pdf_sha256, "pdf")
        filename = f"report-{report.report_number}-v{chosen.version}.pdf"
    audit_report(
        report,
        "report.download",
        actor=account,
        detail={"version": chosen.version, "file": "document" if document else "pdf"},
    )
    if not is_staff_reader(account=account):
        mark_viewed(report, now=now)
    return Download(data, filename, "application/pdf")
