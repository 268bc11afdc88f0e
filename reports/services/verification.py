"""Public verification: what the QR page on a printed report may say about it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.organisation.models import Hospital
from reports.models import LabReportVersion


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
            _l("No issued report has this verification code."),
            code=ErrorCode.VERIFICATION_NOT_FOUND,
        )
    report = version.report
    hospital = db.session.get_one(Hospital, report.hospital_id)
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
