"""The hospital, departments, clinicians and service points: finding them and changing them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from pypinyin import Style, lazy_pinyin
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.organisation.models import (
    Clinician,
    ClinicianTitle,
    Department,
    Hospital,
    ServicePoint,
    ServicePointKind,
)
from hospital.web.id_fields import MAX_ID
from hospital.zones import DEFAULT_TIMEZONE


def pinyin_initials(name_zh: str) -> str:
    """内科 -> "nk", 妇产科 -> "fck": what patients type to find a department quickly."""
    letters = []
    for chunk in lazy_pinyin(name_zh or "", style=Style.FIRST_LETTER):
        letters.append(re.sub(r"[^a-z0-9]", "", chunk.lower()))
    return "".join(letters)[:32]


# ---- reading (public) ----------------------------------------------------------------------


def search_departments(hospital: Hospital, q: str | None = None) -> list[Department]:
    """Active departments, matching q in the Chinese or English name or the pinyin initials."""
    query = sa.select(Department).where(
        Department.hospital_id == hospital.id, Department.is_active.is_(True)
    )
    text = (q or "").strip()
    if text:
        lowered = text.lower()
        query = query.where(
            sa.or_(
                Department.name_zh.contains(text, autoescape=True),
                sa.func.lower(Department.name_en).contains(lowered, autoescape=True),
                Department.pinyin_initials.startswith(lowered, autoescape=True),
            )
        )
    return list(db.session.scalars(query.order_by(Department.sort_order, Department.id)))


def _get(
    model: type[Any], hospital: Hospital, object_id: int, *, code: ErrorCode, message: Any
) -> Any:
    row = db.session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    if row is None or row.hospital_id != hospital.id:
        raise NotFound(message, code=code)
    return row


def get_department(hospital: Hospital, department_id: int) -> Department:
    return _get(
        Department,
        hospital,
        department_id,
        code=ErrorCode.DEPARTMENT_NOT_FOUND,
        message=_l("No department with this id exists here. Pick one from the list."),
    )


def list_clinicians(hospital: Hospital, department_id: int | None = None) -> list[Clinician]:
    """Active clinicians, optionally of one department."""
    query = (
        sa.select(Clinician)
        .where(Clinician.hospital_id == hospital.id, Clinician.is_active.is_(True))
        .options(sa.orm.joinedload(Clinician.department))
    )
    if department_id is not None:
        query = query.where(Clinician.department_id == department_id)
    return list(db.session.scalars(query.order_by(Clinician.department_id, Clinician.id)))


def get_clinician(hospital: Hospital, clinician_id: int) -> Clinician:
    return _get(
        Clinician,
        hospital,
        clinician_id,
        code=ErrorCode.CLINICIAN_NOT_FOUND,
        message=_l("No clinician with this id works here. Pick one from the list."),
    )


def list_service_points(
    hospital: Hospital,
    kind: ServicePointKind | None = None,
    department_id: int | None = None,
) -> list[ServicePoint]:
    """Active rooms and counters, optionally of one kind or department."""
    query = sa.select(ServicePoint).where(
        ServicePoint.hospital_id == hospital.id, ServicePoint.is_active.is_(True)
    )
    if kind is not None:
        query = query.where(ServicePoint.kind == kind)
    if department_id is not None:
        query = query.where(ServicePoint.department_id == department_id)
    return list(db.session.scalars(query.order_by(ServicePoint.kind, ServicePoint.code)))


def get_service_point(hospital: Hospital, service_point_id: int) -> ServicePoint:
    return _get(
        ServicePoint,
        hospital,
        service_point_id,
        code=ErrorCode.SERVICE_POINT_NOT_FOUND,
        message=_l("No room or counter with this id exists here. Pick one from the list."),
    )


# ---- changing (admin) ----------------------------------------------------------------------


def create_hospital(
    *,
    code: str,
    name_zh: str,
    name_en: str,
    timezone: str = DEFAULT_TIMEZONE,
    address_zh: str = "",
    address_en: str = "",
    phone: str = "",
    opening_hours_zh: str = "",
    opening_hours_en: str = "",
    now: datetime,
) -> Hospital:
    """Set up a hospital (from the command line: there is no account yet to act)."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            _l("Unknown time zone. Use a name such as Asia/Shanghai."),
            code=ErrorCode.INVALID_TIMEZONE,
            details={"timezone": [_l("Unknown time zone.")]},
        ) from None
    hospital = Hospital(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        timezone=timezone,
        address_zh=address_zh,
        opening_hours_zh=opening_hours_zh,
        opening_hours_en=opening_hours_en,
        address_en=address_en,
        phone=phone,
        created_at=now,
    )
    _insert(hospital, code=ErrorCode.DUPLICATE_CODE, message=_DUPLICATE_CODE)
    return hospital


_DUPLICATE_CODE = _l("This code is already used here. Choose another code.")

DEPARTMENT_FIELDS = frozenset(
    {
        "code",
        "name_zh",
        "name_en",
        "pinyin_initials",
        "description_zh",
        "description_en",
        "sort_order",
        "is_active",
    }
)
CLINICIAN_FIELDS = frozenset(
    {
        "department_id",
        "account_id",
        "name_zh",
        "name_en",
        "title",
        "specialty_zh",
        "specialty_en",
        "is_active",
    }
)
SERVICE_POINT_FIELDS = frozenset(
    {
        "department_id",
        "kind",
        "code",
        "name_zh",
        "name_en",
        "building",
        "floor",
        "room",
        "directions_zh",
        "directions_en",
        "is_active",
    }
)


def _insert(row: Any, *, code: ErrorCode, message: Any) -> None:
    """Add and flush, turning a unique-constraint race into a Conflict without losing the transaction."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise Conflict(message, code=code) from None


def _flush_changes(*, code: ErrorCode, message: Any) -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(message, code=code) from None


def _check_fields(values: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """Refuse fields that cannot be set and blank names; return the values with text trimmed."""
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InvalidInput(
            _l("These fields cannot be set: %(fields)s.", fields=", ".join(unknown)),
            code=ErrorCode.UNKNOWN_FIELD,
            details={name: [_l("Unknown field.")] for name in unknown},
        )
    data = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    blank = sorted(k for k in ("code", "name_zh", "name_en") if k in data and not data[k])
    if blank:
        raise InvalidInput(
            _l("Fill in %(fields)s: it cannot be blank.", fields=", ".join(blank)),
            code=ErrorCode.BLANK_FIELD,
            details={name: [_l("Cannot be blank.")] for name in blank},
        )
    return data


def _code_taken(model: type[Any], hospital: Hospital, code: str, exclude_id: int | None) -> bool:
    query = sa.select(model.id).where(model.hospital_id == hospital.id, model.code == code)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def _refuse_taken_code(
    model: type[Any], hospital: Hospital, code: str, exclude: int | None
) -> None:
    if _code_taken(model, hospital, code, exclude):
        raise Conflict(
            _DUPLICATE_CODE, code=ErrorCode.DUPLICATE_CODE, details={"code": [_DUPLICATE_CODE]}
        )


def _audit(
    hospital: Hospital, action: str, row: Any, detail: Any, *, actor: Account | None
) -> None:
    record(
        action=action,
        actor=actor,
        object_type=type(row).__tablename__,
        object_id=str(row.id),
        hospital_id=hospital.id,
        detail=detail,
    )


def _enum(enum_cls: type[Any], value: Any, field: str) -> Any:
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum_cls)
        raise InvalidInput(
            _l("Choose one of: %(choices)s.", choices=choices),
            code=ErrorCode.INVALID_CHOICE,
            details={field: [_l("Choose one of: %(choices)s.", choices=choices)]},
        ) from None


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


Row = TypeVar("Row", Department, Clinician, ServicePoint)


@dataclass(frozen=True)
class _Editable(Generic[Row]):
    """How one kind of row is found, checked and set, and what a clash and the audit say."""

    model: type[Row]
    fields: frozenset[str]
    get: Callable[[Hospital, int], Row]
    set_values: Callable[[Hospital, Row, dict[str, Any]], None]
    clash: ErrorCode
    clash_message: Any
    action: str  # audited as "<action>.create" and "<action>.update"


def _create(
    kind: _Editable[Row], hospital: Hospital, data: dict[str, Any], *, actor: Account | None
) -> Row:
    """Add a row with checked values: set, inserted (a clash is a Conflict) and audited."""
    row = kind.model(hospital_id=hospital.id)
    kind.set_values(hospital, row, data)
    _insert(row, code=kind.clash, message=kind.clash_message)
    _audit(hospital, f"{kind.action}.create", row, _jsonable(data), actor=actor)
    return row


def _update(
    kind: _Editable[Row],
    hospital: Hospital,
    row_id: int,
    changes: Mapping[str, Any],
    *,
    actor: Account | None,
) -> Row:
    """Change a row: fields checked, values set, flushed (a clash is a Conflict) and audited."""
    data = _check_fields(changes, kind.fields)
    row = kind.get(hospital, row_id)
    kind.set_values(hospital, row, data)
    _flush_changes(code=kind.clash, message=kind.clash_message)
    _audit(hospital, f"{kind.action}.update", row, _jsonable(data), actor=actor)
    return row


def _set_department(hospital: Hospital, department: Department, data: dict[str, Any]) -> None:
    """Check a department's new values and set them; a new Chinese name brings new initials."""
    if "code" in data:
        _refuse_taken_code(Department, hospital, data["code"], department.id)
    if "name_zh" in data and "pinyin_initials" not in data:
        data["pinyin_initials"] = pinyin_initials(data["name_zh"])
    for key, value in data.items():
        setattr(department, key, value)


_DEPARTMENTS = _Editable(
    Department,
    DEPARTMENT_FIELDS,
    get_department,
    _set_department,
    ErrorCode.DUPLICATE_CODE,
    _DUPLICATE_CODE,
    "organisation.department",
)


def create_department(
    *, actor: Account | None, hospital: Hospital, values: Mapping[str, Any], now: datetime
) -> Department:
    """Add a department; its pinyin initials are computed from the Chinese name unless given."""
    data = _check_fields(values, DEPARTMENT_FIELDS)
    if not data.get("pinyin_initials"):
        data.pop("pinyin_initials", None)  # left blank on a new department: computed
    return _create(_DEPARTMENTS, hospital, data, actor=actor)


def update_department(
    *,
    actor: Account | None,
    hospital: Hospital,
    department_id: int,
    changes: Mapping[str, Any],
    now: datetime,
) -> Department:
    return _update(_DEPARTMENTS, hospital, department_id, changes, actor=actor)


def _check_department(hospital: Hospital, department_id: int | None) -> None:
    if department_id is None:
        return
    try:
        get_department(hospital, department_id)
    except NotFound:
        raise InvalidInput(
            _l("No department with this id exists here. Pick one from the list."),
            code=ErrorCode.DEPARTMENT_NOT_FOUND,
            details={"department_id": [_l("No such department.")]},
        ) from None


def _check_clinician_account(
    hospital: Hospital, account_id: int | None, clinician_id: int | None
) -> None:
    if account_id is None:
        return
    account = db.session.get(Account, account_id) if 0 < account_id <= MAX_ID else None
    if account is None or account.hospital_id != hospital.id:
        raise InvalidInput(
            _l("No account with this id exists here. Check the account id."),
            code=ErrorCode.ACCOUNT_NOT_FOUND,
            details={"account_id": [_l("No such account.")]},
        )
    taken = db.session.scalar(
        sa.select(Clinician.id).where(
            Clinician.account_id == account_id, Clinician.id != clinician_id
        )
        if clinician_id is not None
        else sa.select(Clinician.id).where(Clinician.account_id == account_id)
    )
    if taken is not None:
        raise Conflict(_ACCOUNT_TAKEN, code=ErrorCode.ACCOUNT_ALREADY_LINKED)


_ACCOUNT_TAKEN = _l("This account already belongs to another clinician.")


def _set_clinician(hospital: Hospital, clinician: Clinician, data: dict[str, Any]) -> None:
    """Check a clinician's new values (department, linked account, title) and set them."""
    if "department_id" in data:
        if data["department_id"] is None:
            raise InvalidInput(
                _l("A clinician must belong to a department."),
                code=ErrorCode.DEPARTMENT_REQUIRED,
                details={"department_id": [_l("Field may not be null.")]},
            )
        _check_department(hospital, data["department_id"])
    _check_clinician_account(hospital, data.get("account_id"), clinician.id)
    if "title" in data:
        data["title"] = _enum(ClinicianTitle, data["title"], "title")
    for key, value in data.items():
        setattr(clinician, key, value)


_CLINICIANS = _Editable(
    Clinician,
    CLINICIAN_FIELDS,
    get_clinician,
    _set_clinician,
    ErrorCode.ACCOUNT_ALREADY_LINKED,
    _ACCOUNT_TAKEN,
    "organisation.clinician",
)


def create_clinician(
    *, actor: Account | None, hospital: Hospital, values: Mapping[str, Any], now: datetime
) -> Clinician:
    return _create(_CLINICIANS, hospital, _check_fields(values, CLINICIAN_FIELDS), actor=actor)


def update_clinician(
    *,
    actor: Account | None,
    hospital: Hospital,
    clinician_id: int,
    changes: Mapping[str, Any],
    now: datetime,
) -> Clinician:
    return _update(_CLINICIANS, hospital, clinician_id, changes, actor=actor)


def _set_service_point(hospital: Hospital, point: ServicePoint, data: dict[str, Any]) -> None:
    """Check a room's or counter's new values (department, code, kind) and set them."""
    _check_department(hospital, data.get("department_id"))
    if "code" in data:
        _refuse_taken_code(ServicePoint, hospital, data["code"], point.id)
    if "kind" in data:
        data["kind"] = _enum(ServicePointKind, data["kind"], "kind")
    for key, value in data.items():
        setattr(point, key, value)


_SERVICE_POINTS = _Editable(
    ServicePoint,
    SERVICE_POINT_FIELDS,
    get_service_point,
    _set_service_point,
    ErrorCode.DUPLICATE_CODE,
    _DUPLICATE_CODE,
    "organisation.service_point",
)


def create_service_point(
    *, actor: Account | None, hospital: Hospital, values: Mapping[str, Any], now: datetime
) -> ServicePoint:
    data = _check_fields(values, SERVICE_POINT_FIELDS)
    return _create(_SERVICE_POINTS, hospital, data, actor=actor)


def update_service_point(
    *,
    actor: Account | None,
    hospital: Hospital,
    service_point_id: int,
    changes: Mapping[str, Any],
    now: datetime,
) -> ServicePoint:
    return _update(_SERVICE_POINTS, hospital, service_point_id, changes, actor=actor)
