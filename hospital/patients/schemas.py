"""What the family API accepts (`...Args`, unknown fields refused) and what it shows."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hospital.patients.identity import PHONE_PATTERN, mask_id_number, mask_name, mask_phone
from hospital.patients.models import IdentityType, Relationship, Sex
from hospital.web.id_fields import id_field

RELATIONSHIPS = [r.value for r in Relationship]
SEXES = [s.value for s in Sex]
ID_TYPES = [t.value for t in IdentityType]
# A phone, or blank for a person without one (the services check it: 422 invalid_phone).
OPTIONAL_PHONE_PATTERN = rf"^\s*$|{PHONE_PATTERN}"
# The number's form by its type (the services check it: 422 invalid_id_number). A resident
# ID's check character, and the birth date and sex inside it matching the ones given, are
# checked too; JSON Schema cannot state those (the field's description says so).
IDENTITY_BY_TYPE: dict[str, Any] = {
    "oneOf": [
        {
            "properties": {
                "id_type": {"enum": [IdentityType.RESIDENT_ID.value]},
                "id_number": {"pattern": r"^\s*\d{17}[\dXx]\s*$"},
            }
        },
        {
            "properties": {
                "id_type": {"enum": [IdentityType.PASSPORT.value]},
                "id_number": {"pattern": r"^\s*(?:[A-Za-z0-9]\s*){5,17}$"},
            }
        },
    ]
}


def _id_number() -> fields.Str:
    return fields.Str(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={
            "description": "A resident ID (18 characters; its check character, birth date and "
            "sex must be right and match `birth_date` and `sex`) or a passport number (5 to 17 "
            "letters and digits)."
        },
    )


class FamilyMemberArgs(Schema):
    """A new patient to act for: yourself (relationship "self") or a family member."""

    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = IDENTITY_BY_TYPE

    relationship = fields.Str(required=True, validate=validate.OneOf(RELATIONSHIPS))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    sex = fields.Str(required=True, validate=validate.OneOf(SEXES))
    birth_date = fields.Date(required=True, metadata={"example": "1948-09-03"})
    id_type = fields.Str(required=True, validate=validate.OneOf(ID_TYPES))
    id_number = _id_number()
    phone = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={
            "description": "Leave empty for an elder without a phone.",
            "pattern": OPTIONAL_PHONE_PATTERN,
        },
    )
    can_book = fields.Bool(load_default=True)
    can_pay = fields.Bool(load_default=True)
    can_view_reports = fields.Bool(load_default=True)
    consent_code = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=16),
        metadata={
            "description": "The code texted to the phone of a person the hospital already knows "
            "(ask for it with POST /api/v1/family/consent-code)."
        },
    )


class ConsentCodeArgs(Schema):
    """The person you want to add, whose phone is asked to agree."""

    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = IDENTITY_BY_TYPE

    relationship = fields.Str(load_default="other", validate=validate.OneOf(RELATIONSHIPS))
    name = fields.Str(validate=validate.Length(max=100))
    sex = fields.Str(required=True, validate=validate.OneOf(SEXES))
    birth_date = fields.Date(required=True, metadata={"example": "1948-09-03"})
    id_type = fields.Str(required=True, validate=validate.OneOf(ID_TYPES))
    id_number = _id_number()
    phone = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=32),
        metadata={"pattern": OPTIONAL_PHONE_PATTERN},
    )


class ConsentCodeOut(Schema):
    phone_masked = fields.Str()
    retry_after = fields.Int(metadata={"description": "Seconds until another code may be sent."})


class RightsArgs(Schema):
    """Change what a family member's account may do for the patient."""

    can_book = fields.Bool()
    can_pay = fields.Bool()
    can_view_reports = fields.Bool()

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send at least one of can_book, can_pay, can_view_reports.")


class FamilyLinkUpdateArgs(Schema):
    """Change the relationship, or lower what you may do for a family member."""

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


class HolderOut(Schema):
    """The account acting for you, masked: enough to recognise, not to identify."""

    name_masked = fields.Function(
        lambda a: mask_name(a.display_name) if a.display_name else None,
        metadata={"type": "string", "nullable": True},
    )
    phone_masked = fields.Function(
        lambda a: mask_phone(a.phone) if a.phone else None,
        metadata={"type": "string", "nullable": True},
    )


class GrantOut(Schema):
    """A link from another account to your own record."""

    id = fields.Function(lambda g: g.link.id, metadata={"type": "integer"})
    relationship = fields.Function(lambda g: g.link.relationship.value, metadata={"type": "string"})
    can_book = fields.Function(lambda g: g.link.can_book, metadata={"type": "boolean"})
    can_pay = fields.Function(lambda g: g.link.can_pay, metadata={"type": "boolean"})
    can_view_reports = fields.Function(
        lambda g: g.link.can_view_reports, metadata={"type": "boolean"}
    )
    created_at = fields.Function(
        lambda g: g.link.created_at.isoformat(), metadata={"type": "string", "format": "date-time"}
    )
    holder = fields.Nested(HolderOut)
