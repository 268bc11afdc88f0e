"""Build valid kernel rows with safe defaults; every argument can be overridden."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hospital.accounts.models import Account, AccountRole, Language, Role
from hospital.accounts.passwords import hash_password
from hospital.db import db, utcnow
from hospital.organisation.models import (
    Clinician,
    ClinicianTitle,
    Department,
    Hospital,
    ServicePoint,
    ServicePointKind,
)
from hospital.patients.identity import resident_id_check_char
from hospital.patients.models import FamilyLink, IdentityType, Patient, Relationship, Sex

_seq = itertools.count(1)


def make_resident_id(
    birth: date = date(1950, 3, 7), *, male: bool = True, serial: int | None = None
) -> str:
    n = next(_seq)
    serial = n % 100 if serial is None else serial
    sex_digit = 1 if male else 2
    # The area code varies too, so numbers stay unique across a whole test session.
    area = 110105 + n % 800_000
    first17 = f"{area}{birth:%Y%m%d}{serial:02d}{sex_digit}"
    return first17 + resident_id_check_char(first17)


def unique_phone() -> str:
    return f"139{next(_seq):08d}"


def create_hospital(**kw: Any) -> Hospital:
    n = next(_seq)
    values = {
        "code": f"H{n}",
        "name_zh": f"测试医院{n}",
        "name_en": f"Test Hospital {n}",
        "timezone": "Asia/Shanghai",
    }
    values.update(kw)
    hospital = Hospital(**values)
    db.session.add(hospital)
    db.session.flush()
    return hospital


def create_department(hospital: Hospital, **kw: Any) -> Department:
    n = next(_seq)
    values = {
        "hospital_id": hospital.id,
        "code": f"D{n}",
        "name_zh": "内科",
        "name_en": "Internal Medicine",
        "pinyin_initials": "nk",
    }
    values.update(kw)
    department = Department(**values)
    db.session.add(department)
    db.session.flush()
    return department


def create_clinician(department: Department, **kw: Any) -> Clinician:
    values = {
        "hospital_id": department.hospital_id,
        "department_id": department.id,
        "name_zh": "王建国",
        "name_en": "Wang Jianguo",
        "title": ClinicianTitle.CHIEF_PHYSICIAN,
    }
    values.update(kw)
    clinician = Clinician(**values)
    db.session.add(clinician)
    db.session.flush()
    return clinician


def create_service_point(hospital: Hospital, **kw: Any) -> ServicePoint:
    n = next(_seq)
    values = {
        "hospital_id": hospital.id,
        "kind": ServicePointKind.CONSULTATION_ROOM,
        "code": f"R{n}",
        "name_zh": f"{n}诊室",
        "name_en": f"Room {n}",
        "building": "A",
        "floor": "2",
        "room": f"2{n:02d}",
    }
    values.update(kw)
    point = ServicePoint(**values)
    db.session.add(point)
    db.session.flush()
    return point


def create_account(
    hospital: Hospital,
    *,
    roles: tuple[Role, ...] = (Role.PATIENT,),
    password: str | None = None,
    **kw: Any,
) -> Account:
    staff = any(r != Role.PATIENT for r in roles)
    # An existing account has agreed to the privacy notice (a first sign-in asks; its tests
    # pass privacy_accepted_at=None).
    values: dict[str, Any] = {
        "hospital_id": hospital.id,
        "language": Language.ZH,
        "privacy_accepted_at": utcnow(),
    }
    if staff:
        values["username"] = f"staff{next(_seq)}"
    else:
        values["phone"] = unique_phone()
    values.update(kw)
    if password:
        values["password_hash"] = hash_password(password)
    account = Account(**values)
    account.role_rows = [AccountRole(role=r, hospital_id=hospital.id) for r in roles]
    db.session.add(account)
    db.session.flush()
    return account


def create_patient(
    hospital: Hospital,
    *,
    account: Account | None = None,
    relationship: Relationship = Relationship.SELF,
    **kw: Any,
) -> Patient:
    birth = kw.pop("birth_date", date(1950, 3, 7))
    values = {
        "hospital_id": hospital.id,
        "name": "张三明",
        "sex": Sex.MALE,
        "birth_date": birth,
        "id_type": IdentityType.RESIDENT_ID,
        "id_number": make_resident_id(birth),
    }
    values.update(kw)
    patient = Patient(**values)
    db.session.add(patient)
    db.session.flush()
    patient.medical_record_number = f"{10_000_000 + patient.id}"
    if account is not None:
        db.session.add(
            FamilyLink(
                hospital_id=hospital.id,
                account_id=account.id,
                patient_id=patient.id,
                relationship=relationship,
            )
        )
        db.session.flush()
    return patient


def daytime_zone(now: datetime) -> str:
    """A zone where `now` is mid-day, so "today's clinic" has bookable slots at any CI hour."""
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    if 7 <= local.hour < 18:
        return "Asia/Shanghai"
    offset = 12 - now.astimezone(UTC).hour  # Etc/GMT-N is N hours east of UTC
    if offset < -12:
        offset += 24
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"
