"""Medical record numbers, the desk's lookup by number, and confirming a patient's identity."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Role
from hospital.audit.models import Outcome
from hospital.audit.service import record, record_staff_read
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, NotFound
from hospital.organisation.models import Hospital
from hospital.patients.identity import IdentityError, normalize_passport, parse_resident_id
from hospital.patients.models import Patient
from hospital.patients.services.links import MAX_ID
from hospital.zones import zone_for


def assign_medical_record_number(patient: Patient) -> None:
    """Give a flushed patient its record number (unique per hospital: patient ids are global)."""
    patient.medical_record_number = str(10_000_000 + patient.id)


def patient_by_number(hospital_id: int, text: str) -> Patient | None:
    """The hospital's patient with this medical record, identity card or passport number.

    For staff at a desk, who read the number off a card or a record; None when no one has it.
    """
    raw = re.sub(r"\s", "", text or "").upper()
    if not raw:
        return None
    numbers = {raw}
    with contextlib.suppress(IdentityError):
        numbers.add(parse_resident_id(raw).number)
    with contextlib.suppress(IdentityError):
        numbers.add(normalize_passport(raw))
    return db.session.scalar(
        sa.select(Patient)
        .where(
            Patient.hospital_id == hospital_id,
            sa.or_(Patient.medical_record_number == raw, Patient.id_number.in_(numbers)),
        )
        .order_by(Patient.id)
        .limit(1)
    )


class CodeResolver(Protocol):
    """A resolver of codes shown on a phone; the kernel does not know billing, so billing's
    wiring hands its medical-insurance code resolver in through `accept_codes`."""

    def __call__(
        self, hospital_id: int, text: str, place: str, *, now: datetime
    ) -> Patient | None: ...


_CODE_RESOLVERS: dict[str, CodeResolver] = {}


def accept_codes(name: str, resolver: CodeResolver) -> None:
    """Let the desk accept another kind of code; a second call with the name replaces it."""
    _CODE_RESOLVERS[name] = resolver


def _patient_by_shown_code(hospital_id: int, text: str) -> Patient | None:
    for resolver in _CODE_RESOLVERS.values():
        patient = resolver(hospital_id, text, "挂号处 / registration desk", now=utcnow())
        if patient is not None:
            return patient
    return None


def look_up_at_desk(*, staff: Account, text: str) -> Patient | None:
    """The desk's lookup by record or identity number, audited as a staff read of the patient.

    A family-printed patient card (hospital/cards) is accepted too, like a phone's code, and so
    is any code a resolver handed in by `accept_codes` knows (billing's medical-insurance code).
    """
    from hospital.cards import service as cards

    patient: Patient | None = _patient_by_shown_code(staff.hospital_id, text)
    if patient is None and cards.looks_like_card(text):
        now = utcnow()
        hospital = db.session.get(Hospital, staff.hospital_id)
        zone = zone_for(hospital) if hospital is not None else None
        patient = cards.patient_for_card(
            staff.hospital_id,
            text,
            place="挂号处 / registration desk",
            when=now.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            now=now,
        )
    elif patient is None:
        patient = patient_by_number(staff.hospital_id, text)
    if patient is not None:
        record_staff_read(
            actor=staff,
            action="patient.lookup",
            object_type="patient",
            reads=[(patient.id, patient.id)],
        )
    return patient


IDENTITY_CONFIRMERS = (Role.REGISTRAR, Role.NURSE, Role.ADMIN)


def confirm_identity(*, staff: Account, patient_id: int, now: datetime) -> Patient:
    """Desk staff saw the person with their identity document: the record is confirmed."""
    patient = (
        db.session.get(Patient, patient_id)
        if isinstance(patient_id, int) and 0 < patient_id <= MAX_ID
        else None
    )
    allowed = staff.has_role(*IDENTITY_CONFIRMERS)
    if patient is None or patient.hospital_id != staff.hospital_id or not allowed:
        record(
            action="patient.identity_confirm",
            outcome=Outcome.DENIED,
            actor=staff,
            object_type="patient",
            object_id=str(patient_id),
            detail={"needs": [r.value for r in IDENTITY_CONFIRMERS]},
        )
        if not allowed:
            raise Forbidden(
                _l("Only registration desk staff can confirm a patient's identity."),
                code=ErrorCode.ROLE_REQUIRED,
            )
        raise NotFound(_l("No patient with this id exists here."), code=ErrorCode.PATIENT_NOT_FOUND)
    if patient.identity_confirmed_at is None:
        patient.identity_confirmed_at = now
        db.session.flush()
        record(
            action="patient.identity_confirm",
            actor=staff,
            object_type="patient",
            object_id=str(patient.id),
            patient_id=patient.id,
            hospital_id=staff.hospital_id,
        )
    return patient
