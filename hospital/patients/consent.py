"""Proof before linking someone else's record: consent codes, lookup limits, the desk's ID check."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, CodePurpose
from hospital.accounts.services import codes
from hospital.audit.models import AuditEntry, Outcome
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, TooManyRequests
from hospital.notifications.messages import MessageTemplate
from hospital.organisation.models import Hospital
from hospital.patients.models import IdentityType, Patient

FAMILY_LINK_CODE_TEMPLATE = "family_link_code"
MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    FAMILY_LINK_CODE_TEMPLATE: MessageTemplate(
        subject=_l("Someone asks to act for you"),
        body=_l(
            "{hospital}: someone asks to book, pay and see reports for you as your family member. "
            "Give them the code {code} only if you agree. It expires in {minutes} minutes."
        ),
    ),
}

# Audit actions that looked an identity number up for an account; the hourly limit counts them.
# A refused attempt is audited as denied, so it survives the rollback and still counts.
LOOKUP_ACTIONS = ("family.add", "family.consent_code")

CONSENT_AT_DESK = _l(
    "This person is already registered at the hospital without a mobile number, so they cannot "
    "agree by SMS. To act for them, go to the registration desk with their identity document."
)
CONSENT_REQUIRED = _l(
    "This person or this mobile number is already known to the hospital. To act for them, ask "
    "for a code sent to their mobile phone and enter it, or go to the registration desk with "
    "their identity document."
)


def lookups_per_hour() -> int:
    return int(current_app.config.get("FAMILY_LOOKUPS_PER_HOUR", 10))


def check_lookup_limit(*, account: Account, now: datetime) -> None:
    """Refuse (429) when the account looked up too many identity numbers in the last hour.

    Kept in the audit log, so the limit holds across workers and instances; call it with the
    account locked so parallel requests count each other.
    """
    limit = lookups_per_hour()
    window = timedelta(hours=1)
    times = db.session.scalars(
        sa.select(AuditEntry.at)
        .where(
            AuditEntry.actor_account_id == account.id,
            AuditEntry.action.in_(LOOKUP_ACTIONS),
            AuditEntry.at > now - window,
        )
        .order_by(AuditEntry.at)
    ).all()
    if len(times) < limit:
        return
    wait = max(1, math.ceil((times[len(times) - limit] + window - now).total_seconds()))
    minutes = max(1, math.ceil(wait / 60))
    record(
        action="family.lookup_limited",
        outcome=Outcome.DENIED,
        actor=account,
        hospital_id=account.hospital_id,
        detail={"limit": limit, "wait": wait},
    )
    raise TooManyRequests(
        _l(
            "You have added or looked up %(limit)s people in the last hour, the most allowed. "
            "Try again in %(minutes)s minutes.",
            limit=limit,
            minutes=minutes,
        ),
        code=ErrorCode.LOOKUP_LIMITED,
        details={"retry_after": wait},
    )


def existing_patient(hospital_id: int, id_type: IdentityType, number: str) -> Patient | None:
    return db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == hospital_id,
            Patient.id_type == id_type,
            Patient.id_number == number,
        )
    )


def phone_is_known(hospital_id: int, phone: str) -> bool:
    """True when a patient record or an account of this hospital has this phone."""
    on_record = sa.select(Patient.id).where(
        Patient.hospital_id == hospital_id, Patient.phone == phone
    )
    of_account = sa.select(Account.id).where(
        Account.hospital_id == hospital_id, Account.phone == phone
    )
    return bool(db.session.scalar(sa.select(sa.exists(on_record) | sa.exists(of_account))))


def consent_phone(*, account: Account, existing: Patient | None, phone: str | None) -> str | None:
    """The phone whose owner must agree before account adds this person (None: nobody need).

    An existing record: the phone on it (raises consent_at_desk when it has none). A new
    record whose phone belongs to a record or an account: that phone, unless it is the
    account's own.
    """
    if existing is not None:
        if not existing.phone:
            raise Conflict(CONSENT_AT_DESK, code=ErrorCode.CONSENT_AT_DESK)
        return existing.phone
    if phone and phone != account.phone and phone_is_known(account.hospital_id, phone):
        return phone
    return None


def _hospital(account: Account) -> Hospital:
    hospital = db.session.get(Hospital, account.hospital_id)
    assert hospital is not None
    return hospital


def send_consent_code(*, account: Account, phone: str, now: datetime) -> int:
    """Text a consent code to phone; return seconds until another may be sent."""
    return codes.send_phone_code(
        _hospital(account),
        phone,
        purpose=CodePurpose.FAMILY_LINK,
        template=FAMILY_LINK_CODE_TEMPLATE,
        language=account.language.value,
        now=now,
    )


def check_consent_code(*, account: Account, phone: str, code: str | None, now: datetime) -> None:
    """Consume the consent code sent to phone, or raise (consent_required when none is given)."""
    if not (code or "").strip():
        raise Conflict(CONSENT_REQUIRED, code=ErrorCode.CONSENT_REQUIRED)
    codes.check_phone_code(
        _hospital(account), phone, code or "", purpose=CodePurpose.FAMILY_LINK, now=now
    )
