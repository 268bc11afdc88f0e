"""Printing a released report at the kiosk, for the owner of a phone confirmed with a code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Device
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from kiosk.services.identity import phone_account


@dataclass(frozen=True)
class ReportChoice:
    public_id: str
    title: str
    masked_name: str
    released_at: datetime | None


def _reports() -> Any:
    from kiosk import report_shelf

    shelf = report_shelf.functions()
    if shelf is None:
        raise NotFound(
            _l("Reports cannot be printed at this kiosk. Please ask at the report window."),
            code=ErrorCode.REPORTS_UNAVAILABLE,
        )
    return shelf


def released_reports(device: Device, *, phone: str) -> list[ReportChoice]:
    """The released reports the phone's owner may see (own and family), newest first."""
    account = phone_account(device, phone)
    reports = [
        r for r in _reports().list_for(account=account) if r.hospital_id == device.hospital_id
    ]
    if not reports:
        raise NotFound(
            _l("There is no released report for you yet. We send a text message when it is."),
            code=ErrorCode.NO_RELEASED_REPORT,
        )
    names = {
        p.id: p.name
        for p in db.session.scalars(
            sa.select(Patient).where(Patient.id.in_({r.patient_id for r in reports}))
        )
    }
    return [
        ReportChoice(
            r.public_id, r.test_name, mask_name(names.get(r.patient_id, "")), r.released_at
        )
        for r in reports
    ]


def report_pdf(device: Device, public_id: str, *, phone: str, now: datetime) -> bytes:
    """The report's issued PDF, for the phone's owner (the reports module checks access)."""
    account = phone_account(device, phone)
    if public_id not in {c.public_id for c in released_reports(device, phone=phone)}:
        raise NotFound(
            _l("There is no released report for you yet. We send a text message when it is."),
            code=ErrorCode.NO_RELEASED_REPORT,
        )
    download = _reports().download(
        public_id, account=account, version=None, document=False, now=now
    )
    record(
        action="kiosk.report_print",
        device=device,
        hospital_id=device.hospital_id,
        object_type="lab_report",
        object_id=public_id,
    )
    return bytes(download.content)
