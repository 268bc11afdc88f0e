"""Patients and family links: the only writer of the patient and family_link tables."""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital import events
from hospital.accounts.models import Account, Role
from hospital.audit.models import Outcome
from hospital.audit.service import record, record_staff_read
from hospital.db import db
from hospital.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from hospital.patients import consent
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.consent import CONSENT_REQUIRED
from hospital.patients.grants import LINK_MANAGERS, refuse_raise_by_holder
from hospital.patients.identity import (
    IdentityError,
    mask_phone,
    normalize_passport,
    normalize_phone,
    parse_resident_id,
)
from hospital.patients.models import FamilyLink, IdentityType, Patient, Relationship, Sex

# Ids beyond a 32-bit integer cannot exist; refusing them early keeps PostgreSQL from erroring.
MAX_ID = 2**31 - 1

# identity.py has no Flask in it, so its English sentences are translated here.
_IDENTITY_MESSAGES = {
    "A resident ID has 18 characters: 17 digits and a final digit or X.": _l(
        "A resident ID has 18 characters: 17 digits and a final digit or X."
    ),
    "This resident ID's check digit is wrong. Check the number for a typo.": _l(
        "This resident ID's check digit is wrong. Check the number for a typo."
    ),
    "The birth date inside this resident ID is not a real date.": _l(
        "The birth date inside this resident ID is not a real date."
    ),
    "The birth date inside this resident ID is not plausible.": _l(
        "The birth date inside this resident ID is not plausible."
    ),
    "A passport number has 5 to 17 letters and digits.": _l(
        "A passport number has 5 to 17 letters and digits."
    ),
    "Enter a mobile number: 11 digits starting with 1 (e.g. 13800138000), "
    "or an international number starting with + and the country code.": _l(
        "Enter a mobile number: 11 digits starting with 1 (e.g. 13800138000), "
        "or an international number starting with + and the country code."
    ),
}


def _translated(exc: IdentityError) -> Any:
    return _IDENTITY_MESSAGES.get(str(exc), str(exc))


def family_limit() -> int:
    """How many family members (besides the own profile) one account may act for."""
    return int(current_app.config.get("FAMILY_LIMIT", 5))


def list_links(account: Account) -> list[FamilyLink]:
    """The account's links, its own profile first, each with its patient loaded."""
    return list(
        db.session.scalars(
            sa.select(FamilyLink)
            .where(FamilyLink.account_id == account.id)
            .options(sa.orm.joinedload(FamilyLink.patient))
            .order_by(
                sa.case((FamilyLink.relationship == Relationship.SELF, 0), else_=1),
                FamilyLink.id,
            )
        )
    )


def get_link(account: Account, link_id: int, *, action: str = "family.view") -> FamilyLink:
    """One of the account's own links; anything else is not found (and the attempt audited)."""
    link = (
        db.session.get(FamilyLink, link_id)
        if isinstance(link_id, int) and 0 < link_id <= MAX_ID
        else None
    )
    if link is not None and link.account_id == account.id:
        return link
    record(
        action=action,
        outcome="denied",
        actor=account,
        object_type="family_link",
        object_id=str(link_id),
        patient_id=link.patient_id if link is not None else None,
        hospital_id=account.hospital_id,
    )
    raise NotFound(
        _l("No family member with this id is linked to your account. Reload your list."),
        code="link_not_found",
    )


def _relationship(value: str | Relationship) -> Relationship:
    try:
        return Relationship(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose a relationship: self, parent, child, spouse or other."),
            code="invalid_relationship",
            details={"relationship": [_l("Not a known relationship.")]},
        ) from None


def _sex(value: str | Sex) -> Sex:
    try:
        return Sex(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose a sex: female, male or other."),
            code="invalid_sex",
            details={"sex": [_l("Not a known sex.")]},
        ) from None


def _id_type(value: str | IdentityType) -> IdentityType:
    try:
        return IdentityType(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose an identity document: resident_id or passport."),
            code="invalid_id_type",
            details={"id_type": [_l("Not a known identity document.")]},
        ) from None


def _name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name or len(name) > 100:
        raise InvalidInput(
            _l("Enter the patient's name as on the identity document (1 to 100 characters)."),
            code="invalid_name",
            details={"name": [_l("Enter 1 to 100 characters.")]},
        )
    return name


def _invalid_id(message: Any) -> InvalidInput:
    return InvalidInput(message, code="invalid_id_number", details={"id_number": [message]})


def check_identity(id_type: IdentityType, id_number: str, *, birth_date: date, sex: Sex) -> str:
    """Return the normalised identity number, or raise saying exactly what is wrong with it."""
    if id_type is IdentityType.PASSPORT:
        try:
            return normalize_passport(id_number or "")
        except IdentityError as exc:
            raise _invalid_id(_translated(exc)) from None
    try:
        resident = parse_resident_id(id_number or "")
    except IdentityError as exc:
        raise _invalid_id(_translated(exc)) from None
    if resident.birth_date != birth_date:
        raise _invalid_id(
            _l(
                "The birth date in this resident ID (%(in_id)s) does not match the birth date "
                "given (%(given)s). Correct one of them.",
                in_id=resident.birth_date.isoformat(),
                given=birth_date.isoformat(),
            )
        )
    if sex in (Sex.MALE, Sex.FEMALE) and resident.sex != sex.value:
        raise _invalid_id(
            _l(
                "This resident ID belongs to a %(in_id)s person but the sex given is %(given)s. "
                "Correct one of them.",
                in_id=_SEX_WORDS[resident.sex],
                given=_SEX_WORDS[sex.value],
            )
        )
    return resident.number


_SEX_WORDS = {"male": _l("male"), "female": _l("female"), "other": _l("other")}


def check_phone(phone: str | None) -> str | None:
    """Return the phone normalised, None when blank, or raise invalid_phone."""
    if phone is None or not phone.strip():
        return None
    try:
        return normalize_phone(phone)
    except IdentityError as exc:
        message = _translated(exc)
        raise InvalidInput(message, code="invalid_phone", details={"phone": [message]}) from None


def _check_birth_date(birth_date: date, now: datetime) -> None:
    if not isinstance(birth_date, date) or birth_date > now.date() or birth_date.year < 1890:
        raise InvalidInput(
            _l("Enter a real birth date: not in the future and not before 1890."),
            code="invalid_birth_date",
            details={"birth_date": [_l("Not a plausible birth date.")]},
        )


def _lock_account(account: Account) -> None:
    """Serialise link changes of one account, so two requests cannot both pass the limit."""
    db.session.execute(sa.select(Account.id).where(Account.id == account.id).with_for_update())


def _check_room_for(account: Account, relationship: Relationship) -> None:
    _lock_account(account)
    links = db.session.execute(
        sa.select(FamilyLink.relationship).where(FamilyLink.account_id == account.id)
    ).scalars()
    relationships = list(links)
    if relationship is Relationship.SELF:
        if Relationship.SELF in relationships:
            raise Conflict(
                _l("This account already has its own profile. Add others as family members."),
                code="self_profile_exists",
            )
        return
    limit = family_limit()
    if sum(1 for r in relationships if r != Relationship.SELF) >= limit:
        raise Conflict(
            _l(
                "You already act for %(limit)s family members, the most allowed. "
                "Remove one before adding another.",
                limit=limit,
            ),
            code="family_limit_reached",
        )


def _permissions(link: FamilyLink) -> dict[str, Any]:
    return {
        "relationship": link.relationship.value,
        "can_book": link.can_book,
        "can_pay": link.can_pay,
        "can_view_reports": link.can_view_reports,
    }


def _new_link(
    account: Account,
    patient: Patient,
    relationship: Relationship,
    *,
    can_book: bool,
    can_pay: bool,
    can_view_reports: bool,
    created_by: Account,
    now: datetime,
) -> FamilyLink:
    own = relationship is Relationship.SELF
    link = FamilyLink(
        hospital_id=patient.hospital_id,
        account_id=account.id,
        patient_id=patient.id,
        relationship=relationship,
        # The own profile always carries every permission.
        can_book=True if own else bool(can_book),
        can_pay=True if own else bool(can_pay),
        can_view_reports=True if own else bool(can_view_reports),
        created_at=now,
        created_by_account_id=created_by.id,
    )
    db.session.add(link)
    db.session.flush()
    link.patient = patient
    return link


def _clean_person(
    account: Account,
    *,
    relationship: str,
    name: str,
    sex: str,
    birth_date: date,
    id_type: str,
    id_number: str,
    phone: str | None,
    now: datetime,
) -> dict[str, Any]:
    rel = _relationship(relationship)
    clean_name = _name(name)
    clean_sex = _sex(sex)
    clean_type = _id_type(id_type)
    _check_birth_date(birth_date, now)
    number = check_identity(clean_type, id_number, birth_date=birth_date, sex=clean_sex)
    clean_phone = check_phone(phone)
    if clean_phone is None and rel is Relationship.SELF:
        clean_phone = account.phone
    return {
        "relationship": rel,
        "name": clean_name,
        "sex": clean_sex,
        "birth_date": birth_date,
        "id_type": clean_type,
        "id_number": number,
        "phone": clean_phone,
    }


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
    account: Account,
    *,
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
    person = _clean_person(
        account,
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
    _lock_account(account)
    consent.check_lookup_limit(account, now=now)
    try:
        # The limit is checked before the number is looked up, so that at the limit a
        # registered and an unregistered number are answered alike.
        _check_room_for(account, rel)
        existing = consent.existing_patient(
            account.hospital_id, person["id_type"], person["id_number"]
        )
        if existing is not None:
            _refuse_duplicate_link(account, existing, message=_ALREADY_YOURS)
        phone_to_ask = consent.consent_phone(account, existing, person["phone"])
        if phone_to_ask is not None:
            consent.check_consent_code(account, phone_to_ask, consent_code, now=now)
        patient = existing if existing is not None else _register(account, person, now=now)
        link = _new_link(
            account,
            patient,
            rel,
            can_book=can_book,
            can_pay=can_pay,
            can_view_reports=can_view_reports,
            created_by=account,
            now=now,
        )
    except DomainError as exc:
        _refused_lookup(account, "family.add", exc)
        raise
    detail: dict[str, Any] = _permissions(link)
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
        raise Conflict(CONSENT_REQUIRED, code="consent_required") from None
    assign_medical_record_number(patient)
    return patient


_ALREADY_YOURS = _l("This person is already in your family list.")


def request_consent_code(
    account: Account,
    *,
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
    person = _clean_person(
        account,
        relationship=relationship,
        name="-",
        sex=sex,
        birth_date=birth_date,
        id_type=id_type,
        id_number=id_number,
        phone=phone,
        now=now,
    )
    _lock_account(account)
    consent.check_lookup_limit(account, now=now)
    try:
        _check_room_for(account, person["relationship"])
        existing = consent.existing_patient(
            account.hospital_id, person["id_type"], person["id_number"]
        )
        if existing is not None:
            _refuse_duplicate_link(account, existing, message=_ALREADY_YOURS)
        phone_to_ask = consent.consent_phone(account, existing, person["phone"])
        if phone_to_ask is None:
            raise Conflict(
                _l("No code is needed: this person is not registered yet. Add them directly."),
                code="consent_not_needed",
            )
        wait = consent.send_consent_code(account, phone_to_ask, now=now)
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


def update_link(
    account: Account,
    link_id: int,
    *,
    relationship: str | None = None,
    can_book: bool | None = None,
    can_pay: bool | None = None,
    can_view_reports: bool | None = None,
    now: datetime,
) -> FamilyLink:
    """Change a link's relationship or lower its permissions; the own profile cannot change.

    Raising a permission is the patient's grant (see grants.py), except on a profile the holder
    created itself.
    """
    link = get_link(account, link_id, action="family.update")
    rel = _relationship(relationship) if relationship is not None else None
    if link.relationship is Relationship.SELF or rel is Relationship.SELF:
        raise InvalidInput(
            _l(
                "Your own profile always has every permission and cannot become a family "
                "member, nor a family member your own profile."
            ),
            code="own_profile_fixed",
        )
    refuse_raise_by_holder(
        account,
        link,
        {"can_book": can_book, "can_pay": can_pay, "can_view_reports": can_view_reports},
    )
    before = _permissions(link)
    if rel is not None:
        link.relationship = rel
    if can_book is not None:
        link.can_book = bool(can_book)
    if can_pay is not None:
        link.can_pay = bool(can_pay)
    if can_view_reports is not None:
        link.can_view_reports = bool(can_view_reports)
    after = _permissions(link)
    if after != before:
        db.session.flush()
        record(
            action="family.update",
            actor=account,
            object_type="family_link",
            object_id=str(link.id),
            patient_id=link.patient_id,
            hospital_id=account.hospital_id,
            detail={"before": before, "after": after},
        )
    return link


def remove_link(account: Account, link_id: int, *, now: datetime) -> None:
    """Stop acting for a family member (the patient and their records stay)."""
    link = get_link(account, link_id, action="family.remove")
    if link.relationship is Relationship.SELF:
        raise Conflict(
            _l("Your own profile cannot be removed from your account."),
            code="cannot_remove_own_profile",
        )
    detail = _permissions(link)
    patient_id = link.patient_id
    db.session.delete(link)
    db.session.flush()
    record(
        action="family.remove",
        actor=account,
        object_type="family_link",
        object_id=str(link_id),
        patient_id=patient_id,
        hospital_id=account.hospital_id,
        detail=detail,
    )


def link_existing_patient(
    staff: Account,
    *,
    account_id: int,
    patient_id: int,
    relationship: str,
    can_book: bool = True,
    can_pay: bool = True,
    can_view_reports: bool = True,
    now: datetime,
) -> FamilyLink:
    """Registration desk: link a patient already registered here to an account, after checking ID."""
    if not staff.has_role(*LINK_MANAGERS):
        record(
            action="family.staff_link",
            outcome="denied",
            actor=staff,
            object_type="patient",
            object_id=str(patient_id),
            detail={"needs": [r.value for r in LINK_MANAGERS]},
        )
        raise Forbidden(
            _l("Only the registration desk or an administrator can link patients."),
            code="role_required",
        )
    rel = _relationship(relationship)
    target = (
        db.session.get(Account, account_id)
        if isinstance(account_id, int) and 0 < account_id <= MAX_ID
        else None
    )
    if target is None or target.hospital_id != staff.hospital_id:
        raise NotFound(
            _l("No account with this id exists at this hospital. Check the account id."),
            code="account_not_found",
            details={"account_id": [_l("No such account.")]},
        )
    if not 0 < patient_id <= MAX_ID:
        patient_id = 0
    patient = require_patient_access(
        staff, patient_id, Permission.MANAGE, action="family.staff_link"
    )
    _lock_account(target)
    _refuse_duplicate_link(target, patient)
    _check_room_for(target, rel)
    link = _new_link(
        target,
        patient,
        rel,
        can_book=can_book,
        can_pay=can_pay,
        can_view_reports=can_view_reports,
        created_by=staff,
        now=now,
    )
    record(
        action="family.staff_link",
        actor=staff,
        object_type="family_link",
        object_id=str(link.id),
        patient_id=patient.id,
        hospital_id=staff.hospital_id,
        detail={"account_id": target.id, **_permissions(link)},
    )
    events.family_member_added.send(patient_id=patient.id, account_id=target.id, now=now)
    return link


def _refuse_duplicate_link(account: Account, patient: Patient, *, message: Any = None) -> None:
    linked = db.session.scalar(
        sa.select(FamilyLink.id).where(
            FamilyLink.account_id == account.id, FamilyLink.patient_id == patient.id
        )
    )
    if linked is not None:
        raise Conflict(
            message or _l("This patient is already linked to that account."),
            code="duplicate_family_member",
        )


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


def look_up_at_desk(staff: Account, text: str) -> Patient | None:
    """The desk's lookup by record or identity number, audited as a staff read of the patient."""
    patient = patient_by_number(staff.hospital_id, text)
    if patient is not None:
        record_staff_read(
            staff, action="patient.lookup", object_type="patient", reads=[(patient.id, patient.id)]
        )
    return patient


IDENTITY_CONFIRMERS = (Role.REGISTRAR, Role.NURSE, Role.ADMIN)


def confirm_identity(staff: Account, patient_id: int, *, now: datetime) -> Patient:
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
                code="role_required",
            )
        raise NotFound(_l("No patient with this id exists here."), code="patient_not_found")
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
