"""Adding a patient one acts for, with the consent code when the hospital already knows them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital import events
from hospital.accounts.models import Account
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, DomainError
from hospital.patients import consent
from hospital.patients.consent import CONSENT_REQUIRED
from hospital.patients.identity import mask_phone
from hospital.patients.models import FamilyLink, Patient, Relationship
from hospital.patients.services.links import (
    check_room_for,
    link_permissions,
    lock_account,
    new_link,
    refuse_duplicate_link,
)
from hospital.patients.services.person import clean_person
from hospital.patients.services.records import assign_medical_record_number


def _refused_lookup(account: Account, action: str, exc: DomainError) -> None:
    # Denied entries survive the rollback: the hourly lookup limit counts them.
    record(
        action=action,
        outcome=Outcome.DENIED,
        actor=account,
        hospital_id=account.hospital_id,
        detail={"reason": exc.code},
    )


def add_patient(
    *,
    account: Account,
    relationship: str,
    name: str,
    sex: str,
    birth_date: date,
    id_type: str,
    id_number: str,
    phone: str | None = None,
    can_book: bool = True,
    can_pay: bool = True,
    can_view_reports: bool = True,
    consent_code: str | None = None,
    now: datetime,
) -> FamilyLink:
    """Link a patient to the account (relationship "self": its own profile).

    A new identity number registers a new, unconfirmed record. A number or phone the hospital
    already knows needs the consent code texted to that phone (request_consent_code), or the
    registration desk; with the code, an existing record is linked.
    """
    person = clean_person(
        account=account,
        relationship=relationship,
        name=name,
        sex=sex,
        birth_date=birth_date,
        id_type=id_type,
        id_number=id_number,
        phone=phone,
        now=now,
    )
    rel: Relationship = person["relationship"]
    lock_account(account=account)
    consent.check_lookup_limit(account=account, now=now)
    try:
        # The limit is checked before the number is looked up, so that at the limit a
        # registered and an unregistered number are answered alike.
        check_room_for(account=account, relationship=rel)
        existing = consent.existing_patient(
            account.hospital_id, person["id_type"], person["id_number"]
        )
        if existing is not None:
            refuse_duplicate_link(account=account, patient=existing, message=_ALREADY_YOURS)
        phone_to_ask = consent.consent_phone(
            account=account, existing=existing, phone=person["phone"]
        )
        if phone_to_ask is not None:
            consent.check_consent_code(
                account=account, phone=phone_to_ask, code=consent_code, now=now
            )
        patient = existing if existing is not None else _register(account, person, now=now)
        link = new_link(
            account=account,
            patient=patient,
            relationship=rel,
            can_book=can_book,
            can_pay=can_pay,
            can_view_reports=can_view_reports,
            created_by=account,
            now=now,
        )
    except DomainError as exc:
        _refused_lookup(account, "family.add", exc)
        raise
    detail: dict[str, Any] = link_permissions(link)
    if existing is not None:
        detail["existing_record"] = True
    if phone_to_ask is not None:
        detail["consent"] = "code"
    record(
        action="family.add",
        actor=account,
        object_type="family_link",
        object_id=str(link.id),
        patient_id=patient.id,
        hospital_id=account.hospital_id,
        detail=detail,
    )
    events.family_member_added.send(patient_id=patient.id, account_id=account.id, now=now)
    return link


def _register(account: Account, person: dict[str, Any], *, now: datetime) -> Patient:
    patient = Patient(
        hospital_id=account.hospital_id,
        name=person["name"],
        sex=person["sex"],
        birth_date=person["birth_date"],
        id_type=person["id_type"],
        id_number=person["id_number"],
        phone=person["phone"],
        created_at=now,
        created_by_account_id=account.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(patient)
            db.session.flush()
            # Nobody has seen this person yet: the desk confirms them at their first visit.
            # (Set after the insert: an explicit None would let the column default fire.)
            patient.identity_confirmed_at = None
            db.session.flush()
    except IntegrityError:
        # Someone registered the same identity number a moment ago.
        raise Conflict(CONSENT_REQUIRED, code=ErrorCode.CONSENT_REQUIRED) from None
    assign_medical_record_number(patient)
    return patient


_ALREADY_YOURS = _l("This person is already in your family list.")


def request_consent_code(
    *,
    account: Account,
    sex: str,
    birth_date: date,
    id_type: str,
    id_number: str,
    phone: str | None = None,
    relationship: str = Relationship.OTHER.value,
    now: datetime,
) -> tuple[str, int]:
    """Text a consent code to the phone of the record (or account) this person matches.

    Return the phone masked and the seconds until another code may be sent.
    """
    person = clean_person(
        account=account,
        relationship=relationship,
        name="-",
        sex=sex,
        birth_date=birth_date,
        id_type=id_type,
        id_number=id_number,
        phone=phone,
        now=now,
    )
    lock_account(account=account)
    consent.check_lookup_limit(account=account, now=now)
    try:
        check_room_for(account=account, relationship=person["relationship"])
        existing = consent.existing_patient(
            account.hospital_id, person["id_type"], person["id_number"]
        )
        if existing is not None:
            refuse_duplicate_link(account=account, patient=existing, message=_ALREADY_YOURS)
        phone_to_ask = consent.consent_phone(
            account=account, existing=existing, phone=person["phone"]
        )
        if phone_to_ask is None:
            raise Conflict(
                _l("No code is needed: this person is not registered yet. Add them directly."),
                code=ErrorCode.CONSENT_NOT_NEEDED,
            )
        wait = consent.send_consent_code(account=account, phone=phone_to_ask, now=now)
    except DomainError as exc:
        _refused_lookup(account, "family.consent_code", exc)
        raise
    masked = mask_phone(phone_to_ask)
    record(
        action="family.consent_code",
        actor=account,
        object_type="patient" if existing is not None else "",
        object_id=str(existing.id) if existing is not None else "",
        patient_id=existing.id if existing is not None else None,
        hospital_id=account.hospital_id,
        detail={"phone": masked},
    )
    return masked, wait
