"""Check what was typed about a person: relationship, name, sex, birth date, identity, phone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.organisation.models import Hospital
from hospital.patients.identity import (
    IdentityError,
    normalize_passport,
    normalize_phone,
    parse_resident_id,
)
from hospital.patients.models import IdentityType, Relationship, Sex
from hospital.zones import local_date, zone_for

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


def parse_relationship(value: str | Relationship) -> Relationship:
    """Return the relationship chosen, or raise invalid_relationship."""
    try:
        return Relationship(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose a relationship: self, parent, child, spouse or other."),
            code=ErrorCode.INVALID_RELATIONSHIP,
            details={"relationship": [_l("Not a known relationship.")]},
        ) from None


def _sex(value: str | Sex) -> Sex:
    try:
        return Sex(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose a sex: female, male or other."),
            code=ErrorCode.INVALID_SEX,
            details={"sex": [_l("Not a known sex.")]},
        ) from None


def _id_type(value: str | IdentityType) -> IdentityType:
    try:
        return IdentityType(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose an identity document: resident_id or passport."),
            code=ErrorCode.INVALID_ID_TYPE,
            details={"id_type": [_l("Not a known identity document.")]},
        ) from None


def _name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name or len(name) > 100:
        raise InvalidInput(
            _l("Enter the patient's name as on the identity document (1 to 100 characters)."),
            code=ErrorCode.INVALID_NAME,
            details={"name": [_l("Enter 1 to 100 characters.")]},
        )
    return name


def _invalid_id(message: Any) -> InvalidInput:
    return InvalidInput(message, code=ErrorCode.INVALID_ID_NUMBER, details={"id_number": [message]})


def check_identity(
    id_type: IdentityType, id_number: str, *, birth_date: date, sex: Sex, today: date
) -> str:
    """Return the normalised identity number, or raise saying exactly what is wrong with it."""
    if id_type is IdentityType.PASSPORT:
        try:
            return normalize_passport(id_number or "")
        except IdentityError as exc:
            raise _invalid_id(_translated(exc)) from None
    try:
        resident = parse_resident_id(id_number or "", today=today)
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
        raise InvalidInput(
            message, code=ErrorCode.INVALID_PHONE, details={"phone": [message]}
        ) from None


def local_today(account: Account, *, now: datetime) -> date:
    """The calendar day at the account's hospital at now."""
    hospital = db.session.get(Hospital, account.hospital_id)
    assert hospital is not None, "an account names an existing hospital"
    return local_date(now, zone_for(hospital))


def _check_birth_date(birth_date: date, today: date) -> None:
    if not isinstance(birth_date, date) or birth_date > today or birth_date.year < 1890:
        raise InvalidInput(
            _l("Enter a real birth date: not in the future and not before 1890."),
            code=ErrorCode.INVALID_BIRTH_DATE,
            details={"birth_date": [_l("Not a plausible birth date.")]},
        )


def clean_person(
    *,
    account: Account,
    relationship: str,
    name: str,
    sex: str,
    birth_date: date,
    id_type: str,
    id_number: str,
    phone: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Return the person's details checked and normalised, or raise saying what to fix."""
    rel = parse_relationship(relationship)
    clean_name = _name(name)
    clean_sex = _sex(sex)
    clean_type = _id_type(id_type)
    today = local_today(account, now=now)
    _check_birth_date(birth_date, today)
    number = check_identity(
        clean_type, id_number, birth_date=birth_date, sex=clean_sex, today=today
    )
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
