"""What the organisation API accepts (`...Args`, unknown fields refused) and what it shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hospital.organisation.models import ClinicianTitle, ServicePointKind
from hospital.web.id_fields import MAX_ID

TITLES = [t.value for t in ClinicianTitle]
KINDS = [k.value for k in ServicePointKind]
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="Use 1 to 32 letters, digits, '-' or '_'.")

TITLE_LABELS = {
    ClinicianTitle.CHIEF_PHYSICIAN: _l("Chief physician"),
    ClinicianTitle.ASSOCIATE_CHIEF_PHYSICIAN: _l("Associate chief physician"),
    ClinicianTitle.ATTENDING_PHYSICIAN: _l("Attending physician"),
    ClinicianTitle.RESIDENT_PHYSICIAN: _l("Resident physician"),
    ClinicianTitle.TECHNICIAN: _l("Technician"),
}


def _id(*, strict: bool = True, **kwargs: Any) -> fields.Int:
    # Query strings are text, so ids in them cannot be strict JSON integers.
    return fields.Int(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _text(max_length: int, *, required: bool = False, blank: bool = True) -> fields.Str:
    return fields.Str(
        required=required, validate=validate.Length(min=0 if blank else 1, max=max_length)
    )


def _name(creating: bool) -> fields.Str:
    return _text(100, required=creating, blank=False)


# ---- queries -------------------------------------------------------------------------------


class DepartmentQueryArgs(Schema):
    q = fields.Str(
        validate=validate.Length(max=50),
        metadata={"description": "Part of the Chinese or English name, or pinyin initials (nk)."},
    )


class ClinicianQueryArgs(Schema):
    department_id = _id(strict=False)


class ServicePointQueryArgs(Schema):
    kind = fields.Str(validate=validate.OneOf(KINDS))
    department_id = _id(strict=False)


# ---- admin changes -------------------------------------------------------------------------


class _ChangeArgs(Schema):
    """Base of the update schemas: an empty change is refused."""

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send at least one field to change.")


def _department_fields(creating: bool) -> dict[str, fields.Field]:
    return {
        "code": fields.Str(required=creating, validate=CODE),
        "name_zh": _name(creating),
        "name_en": _name(creating),
        "pinyin_initials": fields.Str(
            validate=validate.Regexp(r"^[a-z0-9]{0,32}$", error="Use lowercase letters a-z."),
            metadata={"description": "Computed from name_zh when left out."},
        ),
        "description_zh": _text(2000),
        "description_en": _text(2000),
        "sort_order": fields.Int(strict=True, validate=validate.Range(min=-10000, max=10000)),
        "is_active": fields.Bool(),
    }


def _clinician_fields(creating: bool) -> dict[str, fields.Field]:
    return {
        "department_id": _id(required=creating),
        "account_id": _id(allow_none=True),
        "name_zh": _name(creating),
        "name_en": _name(creating),
        "title": fields.Str(required=creating, validate=validate.OneOf(TITLES)),
        "specialty_zh": _text(300),
        "specialty_en": _text(300),
        "is_active": fields.Bool(),
    }


def _service_point_fields(creating: bool) -> dict[str, fields.Field]:
    return {
        "department_id": _id(allow_none=True),
        "kind": fields.Str(required=creating, validate=validate.OneOf(KINDS)),
        "code": fields.Str(required=creating, validate=CODE),
        "name_zh": _name(creating),
        "name_en": _name(creating),
        "building": _text(50),
        "floor": _text(10),
        "room": _text(20),
        "directions_zh": _text(300),
        "directions_en": _text(300),
        "is_active": fields.Bool(),
    }


def _schemas(
    name: str, make: Callable[[bool], dict[str, fields.Field]]
) -> tuple[type[Schema], type[Schema]]:
    return (
        Schema.from_dict(make(True), name=f"{name}CreateArgs"),
        _ChangeArgs.from_dict(make(False), name=f"{name}UpdateArgs"),
    )


DepartmentCreateArgs, DepartmentUpdateArgs = _schemas("Department", _department_fields)
ClinicianCreateArgs, ClinicianUpdateArgs = _schemas("Clinician", _clinician_fields)
ServicePointCreateArgs, ServicePointUpdateArgs = _schemas("ServicePoint", _service_point_fields)


# ---- output --------------------------------------------------------------------------------


class HospitalOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    timezone = fields.Str(metadata={"description": "IANA zone; times are shown in it."})
    address_zh = fields.Str()
    address_en = fields.Str()
    phone = fields.Str()


class DepartmentOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    pinyin_initials = fields.Str()
    description_zh = fields.Str()
    description_en = fields.Str()
    sort_order = fields.Int()
    is_active = fields.Bool()


class DepartmentBriefOut(Schema):
    id = fields.Int()
    name_zh = fields.Str()
    name_en = fields.Str()


class ClinicianOut(Schema):
    id = fields.Int()
    department_id = fields.Int()
    department = fields.Nested(DepartmentBriefOut)
    name_zh = fields.Str()
    name_en = fields.Str()
    title = fields.Str()
    title_label = fields.Function(
        lambda c: str(TITLE_LABELS.get(c.title, c.title)),
        metadata={"type": "string", "description": "The title in the reader's language."},
    )
    specialty_zh = fields.Str()
    specialty_en = fields.Str()
    is_active = fields.Bool()


class ServicePointOut(Schema):
    id = fields.Int()
    department_id = fields.Int(allow_none=True)
    kind = fields.Str()
    code = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    building = fields.Str()
    floor = fields.Str()
    room = fields.Str()
    directions_zh = fields.Str()
    directions_en = fields.Str()
    is_active = fields.Bool()
