"""Who is at the kiosk: a phone confirmed with a texted code, the patients it may act for,
a patient found by an identity number, their appointments today.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hospital.accounts.models import Account, CodePurpose, Device
from hospital.accounts.services import codes
from hospital.audit.service import record
from hospital.billing.services import insured
from hospital.cards import service as cards
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, NotFound, Unauthorized
from hospital.notifications.messages import MessageTemplate
from hospital.patients.access import (
    Permission,
    patients_acting_for,
    patients_for_phone_account,
)
from hospital.patients.identity import (
    IdentityError,
    mask_name,
    normalize_passport,
    normalize_phone,
    parse_resident_id,
)
from hospital.patients.models import FamilyLink, Patient, Relationship
from hospital.unit_of_work import after_rollback
from hospital.zones import local_date, zone_for
from kiosk.models import ActivityKind, KioskActivity
from kiosk.services.devices import config, hospital_of
from kiosk.services.throttle import check_rate, log_activity
from scheduling.services.queries import (
    AppointmentState,
    appointment_named_by_code,
    appointments_of_patients_on,
)

KIOSK_CODE_TEMPLATE = "kiosk_code"
MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    KIOSK_CODE_TEMPLATE: MessageTemplate(
        subject=_l("Your kiosk code"),
        body=_l("Your code at the {hospital} kiosk is {code}. It expires in {minutes} minutes."),
    ),
}

CONFIRM_SALT = "kiosk-confirmed-phone"

_RESIDENT_ID_SHAPE = re.compile(r"\d{17}[\dXx]")


def normalized_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except IdentityError:
        raise InvalidInput(
            _l("Enter a mobile number: 11 digits starting with 1, e.g. 13800138000."),
            code=ErrorCode.INVALID_PHONE,
        ) from None


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def send_code(device: Device, phone: str, *, language: str, now: datetime) -> int:
    """Text a 6-digit code to phone; return seconds until another may be sent to it."""
    phone = normalized_phone(phone)
    check_rate(device, ActivityKind.CODE, int(config("KIOSK_CODES_PER_MINUTE", 6)), now=now)
    log_activity(device, ActivityKind.CODE, now=now)
    return codes.send_phone_code(
        hospital_of(device.hospital_id),
        phone,
        purpose=CodePurpose.KIOSK_CONFIRM,
        template=KIOSK_CODE_TEMPLATE,
        language="en" if language == "en" else "zh",
        now=now,
        device=device,
    )


def verify_code(device: Device, phone: str, code: str, *, now: datetime) -> str:
    """Check the latest code sent to phone at this hospital; return a short-lived confirmation."""
    phone = normalized_phone(phone)
    codes.check_phone_code(
        hospital_of(device.hospital_id),
        phone,
        code,
        purpose=CodePurpose.KIOSK_CONFIRM,
        now=now,
        device=device,
    )
    return confirmation_token(device.id, phone)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt=CONFIRM_SALT)


def confirmation_token(device_id: int, phone: str) -> str:
    return _serializer().dumps({"d": device_id, "p": phone})


def confirmed_phone(device: Device, token: str) -> str:
    """The phone a confirmation token proves, if it was made at this kiosk and is still fresh."""
    max_age = int(config("KIOSK_CONFIRM_SECONDS", 300))
    try:
        data = _serializer().loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise Unauthorized(
            _l("Your confirmation has run out. Start again and ask for a new code."),
            code=ErrorCode.CONFIRMATION_EXPIRED,
        ) from None
    except BadSignature:
        raise Unauthorized(
            _l("Confirm your phone number with a code first."), code=ErrorCode.CONFIRMATION_REQUIRED
        ) from None
    if not isinstance(data, dict) or data.get("d") != device.id:
        raise Unauthorized(
            _l("Confirm your phone number with a code first."), code=ErrorCode.CONFIRMATION_REQUIRED
        )
    return str(data["p"])


def patients_for_phone(hospital_id: int, phone: str) -> list[Patient]:
    """Patients with this phone, and those the account of this phone may see (the access rule)."""
    found = {p.id: p for p in patients_for_phone_account(hospital_id, phone, Permission.VIEW)}
    for patient in db.session.scalars(
        sa.select(Patient).where(Patient.hospital_id == hospital_id, Patient.phone == phone)
    ):
        found.setdefault(patient.id, patient)
    return sorted(found.values(), key=lambda p: p.id)


# A lookup must count even when the request that made it fails (most lookups of a number that
# finds nothing end in a 404, which rolls back): the row is written again after the rollback,
# and committed with the failure's audit entry (keep_fruitless_lookup), which the request edge
# replays (hospital.audit.service.replay_after_rollback).
def _keep_lookup_after_rollback(row: dict[str, Any]) -> None:
    after_rollback(lambda session: session.execute(sa.insert(KioskActivity), [row]))


def keep_fruitless_lookup(device: Device) -> None:
    """Audit an identity lookup that found nothing today (kept, with its count, on rollback)."""
    record(
        action="kiosk.id_lookup",
        outcome="failed",
        device=device,
        object_type="device",
        object_id=str(device.id),
        detail={"reason": "nothing_today"},
    )


def patient_for_identity(device: Device, number: str, *, now: datetime) -> Patient | None:
    """The patient with this resident ID or passport number at this kiosk's hospital, if any.

    Lookups are counted per kiosk (HOSPITAL_KIOSK_ID_LOOKUPS_PER_MINUTE), and callers answer an
    unknown number exactly as a known one with nothing today, so the kiosk cannot be used to
    find out who is a patient here.
    """
    raw = re.sub(r"\s", "", number or "")
    # A family-printed patient card (hospital/cards) is accepted here like an identity number.
    card = cards.looks_like_card(raw.upper())
    # So is the medical-insurance code (医保电子凭证) a phone shows, the person's or a family's.
    insurance = insured.looks_like_code(raw)
    candidates = set()
    with contextlib.suppress(IdentityError):
        today = local_date(now, zone_for(hospital_of(device.hospital_id)))
        candidates.add(parse_resident_id(raw, today=today).number)
    with contextlib.suppress(IdentityError):
        candidates.add(normalize_passport(raw))
    if not candidates and not card and not insurance:
        if _RESIDENT_ID_SHAPE.fullmatch(raw.upper()):
            # Well formed, but its check character or birth date is wrong: no person has it
            # (the API document's pattern cannot check those, so this is not a malformed 422).
            # Most likely a typo in one digit: say so, not "enter 18 characters".
            raise NotFound(
                _l("This identity card number does not add up. Check each digit for a typo."),
                code=ErrorCode.INVALID_IDENTITY_NUMBER,
            )
        raise InvalidInput(
            _l("Enter the 18 characters of the identity card, or the passport number."),
            code=ErrorCode.INVALID_IDENTITY_NUMBER,
        )
    check_rate(
        device, ActivityKind.ID_LOOKUP, int(config("KIOSK_ID_LOOKUPS_PER_MINUTE", 10)), now=now
    )
    log_activity(device, ActivityKind.ID_LOOKUP, now=now)
    _keep_lookup_after_rollback(
        {
            "hospital_id": device.hospital_id,
            "device_id": device.id,
            "kind": ActivityKind.ID_LOOKUP,
            "at": now,
        }
    )
    if insurance:
        return insured.patient_for_code(
            device.hospital_id, raw, place=device.location or device.name, now=now
        )
    if card:
        hospital = hospital_of(device.hospital_id)
        return cards.patient_for_card(
            device.hospital_id,
            raw.upper(),
            place=device.location or device.name,
            when=now.astimezone(zone_for(hospital)).strftime("%Y-%m-%d %H:%M"),
            now=now,
        )
    return db.session.scalar(
        sa.select(Patient)
        .where(Patient.hospital_id == device.hospital_id, Patient.id_number.in_(candidates))
        .limit(1)
    )


@dataclass(frozen=True)
class AppointmentChoice:
    appointment_id: int
    starts_at: datetime
    masked_name: str
    department_zh: str
    department_en: str
    clinician_zh: str
    clinician_en: str
    checked_in: bool


def todays_appointments(
    hospital_id: int, patient_ids: list[int], *, now: datetime
) -> list[AppointmentChoice]:
    """Today's booked or checked-in appointments of these patients, earliest first."""
    if not patient_ids:
        return []
    day = local_date(now, zone_for(hospital_of(hospital_id)))
    rows = appointments_of_patients_on(hospital_id, patient_ids, day)
    names = dict(
        db.session.execute(
            sa.select(Patient.id, Patient.name).where(
                Patient.id.in_({a.patient_id for a, _d, _c in rows})
            )
        )
        .tuples()
        .all()
    )
    return [
        AppointmentChoice(
            appointment_id=a.id,
            starts_at=a.slot.starts_at,
            masked_name=mask_name(names[a.patient_id]),
            department_zh=d.name_zh,
            department_en=d.name_en,
            clinician_zh=c.name_zh if c else "",
            clinician_en=c.name_en if c else "",
            checked_in=a.state is AppointmentState.CHECKED_IN,
        )
        for a, d, c in rows
    ]


def no_appointment_today() -> NotFound:
    """The one answer for "no appointment today" and for an identity number we do not know."""
    return NotFound(
        _l(
            "We found no appointment for today. Check the number, or ask at the registration "
            'desk. To see a doctor today, choose "Register now" on the first screen.'
        ),
        code=ErrorCode.NO_APPOINTMENT_TODAY,
    )


def no_record_for_walk_in() -> NotFound:
    """A walk-in named by an identity number needs a record: the desk registers the person."""
    return NotFound(
        _l("We found no patient with this number. Check it, or ask at the registration desk."),
        code=ErrorCode.PATIENT_NOT_FOUND,
    )


def appointment_from_code(device: Device, text: str) -> int:
    """The appointment a scanned QR names, if it is one of this hospital's."""
    named = appointment_named_by_code(_secret(), text)
    if named is None:
        # Any text may be scanned; one that is not our signed code names no appointment.
        raise NotFound(
            _l(
                "This is not an appointment code of this hospital. Scan the QR code of your "
                "appointment, or choose another way to check in."
            ),
            code=ErrorCode.UNKNOWN_CODE,
        )
    hospital_id, appointment_id = named
    if hospital_id != device.hospital_id:
        raise InvalidInput(
            _l("This appointment is at another hospital. Please go to that hospital."),
            code=ErrorCode.OTHER_HOSPITAL_CODE,
        )
    return appointment_id


def account_for_phone(hospital_id: int, phone: str) -> Account | None:
    """The active account of this phone at the hospital, if any."""
    return db.session.scalar(
        sa.select(Account).where(
            Account.hospital_id == hospital_id, Account.phone == phone, Account.is_active.is_(True)
        )
    )


def _own_patient(hospital_id: int, phone: str, account: Account) -> Patient:
    """The patient the phone's owner is: the profile with this phone, else the account's own."""
    patients = patients_for_phone(hospital_id, phone)
    own = next((p for p in patients if p.phone == phone), None)
    if own is None:
        own_id = db.session.scalar(
            sa.select(FamilyLink.patient_id).where(
                FamilyLink.account_id == account.id, FamilyLink.relationship == Relationship.SELF
            )
        )
        own = next((p for p in patients if p.id == own_id), None)
    if own is None:
        raise NotFound(
            _l("We found no patient profile for this phone. Please ask at the registration desk."),
            code=ErrorCode.PATIENT_NOT_FOUND,
        )
    return own


def people_for_phone(hospital_id: int, phone: str) -> list[Patient]:
    """Whom the phone's owner may register at the kiosk: themselves first, then family."""
    account = account_for_phone(hospital_id, phone)
    if account is None:
        return []
    people = patients_acting_for(account, Permission.BOOK)
    own = next((p for p in people if p.phone == phone), None)
    return sorted(people, key=lambda p: (p is not own, p.id))


def walk_in_patient(
    hospital_id: int, phone: str, patient_id: int | None, *, account: Account
) -> Patient:
    """The patient a walk-in is for: the phone's owner, or one of the family it books for."""
    if patient_id is None:
        return _own_patient(hospital_id, phone, account)
    patient = next(
        (p for p in patients_acting_for(account, Permission.BOOK) if p.id == patient_id), None
    )
    if patient is None:
        raise NotFound(
            _l("This person is not in your family list. Choose again, or ask at the desk."),
            code=ErrorCode.PATIENT_NOT_FOUND,
        )
    return patient


def phone_account(device: Device, phone: str) -> Account:
    """The account of a confirmed phone; a phone without one is not found."""
    account = account_for_phone(device.hospital_id, phone)
    if account is None:
        raise NotFound(
            _l("This phone has no account with us yet. Please ask at the registration desk."),
            code=ErrorCode.NO_ACCOUNT_FOR_PHONE,
        )
    return account
