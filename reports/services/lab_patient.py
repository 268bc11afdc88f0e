"""Which patient lab staff mean: a record number, an identity number or the visit code shown."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record_staff_read
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.patients.models import Patient
from hospital.patients.services.records import patient_by_number
from hospital.visits.codes import looks_like_visit_code, normalize
from hospital.visits.services import resolve_code
from reports.models import LabReport
from reports.release import ReleaseRule

STATION = "lab"


def patient_for_results(*, actor: Account, text: str, now: datetime) -> Patient:
    """The patient named by record number, resident ID / passport number or visit code.

    A visit code resolves through the visit (this hospital's, of any day: results come after the
    draw) and an identity number is a staff read of the patient: both are audited. A record
    number is what the lab system sends anyway.
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidInput(
            _l("Enter the patient's record number, ID number or visit code."),
            code=ErrorCode.UNKNOWN_MEDICAL_RECORD_NUMBER,
        )
    if looks_like_visit_code(raw):
        visit = resolve_code(
            raw,
            hospital_id=actor.hospital_id,
            station=STATION,
            now=now,
            actor=actor,
            today_only=False,
        )
        record_staff_read(
            actor=actor,
            action=f"visit.{STATION}.read",
            object_type="visit",
            reads=[(visit.id, visit.patient_id)],
        )
        return db.session.get_one(Patient, visit.patient_id)
    patient = patient_by_number(actor.hospital_id, raw)
    if patient is None:
        raise InvalidInput(
            _l(
                "No patient has this record number, ID number or visit code in this hospital. "
                "Check it; nothing was stored."
            ),
            code=ErrorCode.UNKNOWN_MEDICAL_RECORD_NUMBER,
        )
    if patient.medical_record_number != normalize(raw):
        # Found by an identity number: a staff read of who that person is.
        record_staff_read(
            actor=actor,
            action="patient.lookup.lab",
            object_type="patient",
            reads=[(patient.id, patient.id)],
        )
    return patient


def awaiting_clinician(hospital_id: int) -> list[LabReport]:
    """Reports (or corrected versions) held until a clinician releases them, oldest first."""
    return list(
        db.session.scalars(
            sa.select(LabReport)
            .where(
                LabReport.hospital_id == hospital_id,
                LabReport.release_rule == ReleaseRule.CLINICIAN,
                sa.or_(
                    LabReport.released_version.is_(None),
                    LabReport.released_version < LabReport.current_version,
                ),
            )
            .order_by(LabReport.received_at, LabReport.id)
        )
    )
