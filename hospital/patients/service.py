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
from hospital.audit.service import record
from hospital.db import db
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.identity import (
    IdentityError,
    normalize_passport,
    normalize_phone,
    parse_resident_id,
)
from hospital.patients.models import FamilyLink, IdentityType, Patient, Relationship, Sex
from hospital.web.id_fields import MAX_ID

LINK_MANAGERS = (Role.REGISTRAR, Role.ADMIN)

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
    now: datetime,
) -> FamilyLink:
    """Register a new patient and link it to the account (relationship "self": its own profile)."""
    rel = _relationship(relationship)
    clean_name = _name(name)
    clean_sex = _sex(sex)
    clean_type = _id_type(id_type)
    _check_birth_date(birth_date, now)
    number = check_identity(clean_type, id_number, birth_date=birth_date, sex=clean_sex)
    clean_phone = check_phone(phone)
    if clean_phone is None and rel is Relationship.SELF:
        clean_phone = account.phone

    existing = db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == account.hospital_id,
            Patient.id_type == clean_type,
            Patient.id_number == number,
        )
    )
    if existing is not None:
        _refuse_existing(account, existing)
    _check_room_for(account, rel)

    patient = Patient(
        hospital_id=account.hospital_id,
        name=clean_name,
        sex=clean_sex,
        birth_date=birth_date,
        id_type=clean_type,
        id_number=number,
        phone=clean_phone,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(patient)
            db.session.flush()
    except IntegrityError:
        # Someone registered the same identity number a moment ago.
        raise Conflict(_ALREADY_REGISTERED, code="patient_already_registered") from None
    assign_medical_record_number(patient)
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
    record(
        action="family.add",
        actor=account,
        object_type="family_link",
        object_id=str(link.id),
        patient_id=patient.id,
        hospital_id=account.hospital_id,
        detail=_permissions(link),
    )
    events.family_member_added.send(patient_id=patient.id, account_id=account.id, now=now)
    return link


_ALREADY_REGISTERED = _l(
    "This person is already registered at the hospital. To act for them, ask the registration "
    "desk to link them to your account (bring their identity document)."
)


def _refuse_existing(account: Account, patient: Patient) -> None:
    linked = db.session.scalar(
        sa.select(FamilyLink.id).where(
            FamilyLink.account_id == account.id, FamilyLink.patient_id == patient.id
        )
    )
    if linked is not None:
        raise Conflict(
            _l("This person is already in your family list."), code="duplicate_family_member"
        )
    # Never link silently: knowing an ID number must not open someone's records.
    raise Conflict(_ALREADY_REGISTERED, code="patient_already_registered")


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
    """Change a link's relationship or permissions; the own profile cannot change."""
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


def _refuse_duplicate_link(account: Account, patient: Patient) -> None:
    linked = db.session.scalar(
        sa.select(FamilyLink.id).where(
            FamilyLink.account_id == account.id, FamilyLink.patient_id == patient.id
        )
    )
    if linked is not None:
        raise Conflict(
            _l("This patient is already linked to that account."),
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
