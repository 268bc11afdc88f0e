"""What the family API accepts (`...Args`, unknown fields refused) and what it shows."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hospital.patients.identity import mask_id_number, mask_phone
from hospital.patients.models import IdentityType, Relationship, Sex
from hospital.web.id_fields import id_field

RELATIONSHIPS = [r.value for r in Relationship]
SEXES = [s.value for s in Sex]
ID_TYPES = [t.value for t in IdentityType]


class FamilyMemberArgs(Schema):
    """A new patient to act for: yourself (relationship "self") or a family member."""

    relationship = fields.Str(required=True, validate=validate.OneOf(RELATIONSHIPS))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    sex = fields.Str(required=True, validate=validate.OneOf(SEXES))
    birth_date = fields.Date(required=True, metadata={"example": "1948-09-03"})
    id_type = fields.Str(required=True, validate=validate.OneOf(ID_TYPES))
    id_number = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    phone = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"description": "Leave empty for an elder without a phone."},
    )
    can_book = fields.Bool(load_default=True)
    can_pay = fields.Bool(load_default=True)
    can_view_reports = fields.Bool(load_default=True)


class FamilyLinkUpdateArgs(Schema):
    """Change what you may do for a family member, or the relationship."""

    relationship = fields.Str(validate=validate.OneOf(RELATIONSHIPS))
    can_book = fields.Bool()
    can_pay = fields.Bool()
    can_view_reports = fields.Bool()

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ValidationError(
                "Send at least one of relationship, can_book, can_pay, can_view_reports."
            )


class PermissionsArgs(Schema):
    can_book = fields.Bool(load_default=True)
    can_pay = fields.Bool(load_default=True)
    can_view_reports = fields.Bool(load_default=True)


class StaffLinkArgs(Schema):
    """Registration desk: link a patient already registered here to an account."""

    account_id = id_field(required=True)
    patient_id = id_field(required=True)
    relationship = fields.Str(required=True, validate=validate.OneOf(RELATIONSHIPS))
    permissions = fields.Nested(PermissionsArgs, load_default=lambda: PermissionsArgs().load({}))


class PatientOut(Schema):
    """A patient as their own family sees them: identity number and phone masked."""

    id = fields.Int()
    name = fields.Str()
    sex = fields.Str()
    birth_date = fields.Date()
    id_type = fields.Str()
    id_number_masked = fields.Function(
        lambda p: mask_id_number(p.id_number), metadata={"type": "string"}
    )
    phone_masked = fields.Function(
        lambda p: mask_phone(p.phone) if p.phone else None,
        metadata={"type": "string", "nullable": True},
    )
    medical_record_number = fields.Str()


class FamilyLinkOut(Schema):
    id = fields.Int()
    relationship = fields.Str()
    can_book = fields.Bool()
    can_pay = fields.Bool()
    can_view_reports = fields.Bool()
    created_at = fields.DateTime()
    patient = fields.Nested(PatientOut)


class StaffFamilyLinkOut(FamilyLinkOut):
    account_id = fields.Int()
