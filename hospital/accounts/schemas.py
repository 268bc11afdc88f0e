"""What the authentication API accepts (`...Args`, unknown fields refused) and returns."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from hospital.accounts.models import Account, DeviceKind, Language, Role
from hospital.accounts.otp import CODE_PATTERN
from hospital.patients.identity import PHONE_PATTERN
from hospital.web.id_fields import id_field


class StrictBool(fields.Bool):
    """Only JSON true or false: "yes", 1 or "on" are refused, so a typo is not read as a choice."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _Args(Schema):
    class Meta:
        unknown = RAISE


class NoArgs(_Args):
    """An endpoint that takes no fields: anything sent is refused, not ignored."""


class SendCodeArgs(_Args):
    phone = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"pattern": PHONE_PATTERN},
    )
    language = fields.Enum(Language, by_value=True, load_default=None)


class SendCodeResult(Schema):
    resend_after_seconds = fields.Int(required=True)
    expires_in_seconds = fields.Int(required=True)


class VerifyCodeArgs(_Args):
    phone = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"pattern": PHONE_PATTERN},
    )
    code = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=16),
        metadata={"pattern": CODE_PATTERN},
    )


class PasswordSignInArgs(_Args):
    login = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A patient's phone number or a staff username."},
    )
    password = fields.Str(required=True, validate=validate.Length(min=1, max=128))


class PreferencesArgs(_Args):
    language = fields.Enum(Language, by_value=True)
    elder_mode = StrictBool()
    display_name = fields.Str(validate=validate.Length(max=100))


class SetPasswordArgs(_Args):
    new_password = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    current_password = fields.Str(
        load_default=None,
        validate=validate.Length(max=128),
        metadata={"description": "Required once the account has a password."},
    )


class ReasonArgs(_Args):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=200))


class StaffArgs(_Args):
    username = fields.Str(required=True, validate=validate.Length(min=3, max=64))
    password = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    roles = fields.List(
        fields.Enum(Role, by_value=True), required=True, validate=validate.Length(min=1, max=6)
    )
    display_name = fields.Str(required=True, validate=validate.Length(min=1, max=100))


class DeviceArgs(_Args):
    kind = fields.Enum(DeviceKind, by_value=True, required=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=100))
    location = fields.Str(load_default="", validate=validate.Length(max=200))
    service_point_id = id_field(load_default=None, allow_none=True)


class AccountSchema(Schema):
    """An account as its owner or an administrator sees it: never a password hash or token."""

    id = fields.Int()
    hospital_id = fields.Int()
    phone = fields.Str(allow_none=True)
    username = fields.Str(allow_none=True)
    display_name = fields.Str()
    roles = fields.Method("_roles")
    language = fields.Enum(Language, by_value=True)
    elder_mode = fields.Bool()
    is_active = fields.Bool()
    is_staff = fields.Bool()
    has_password = fields.Method("_has_password")
    last_sign_in_at = fields.DateTime(allow_none=True)

    def _roles(self, account: Account) -> list[str]:
        return sorted(r.value for r in account.roles)

    def _has_password(self, account: Account) -> bool:
        return account.password_hash is not None


class DeviceSchema(Schema):
    id = fields.Int()
    hospital_id = fields.Int()
    kind = fields.Enum(DeviceKind, by_value=True)
    name = fields.Str()
    location = fields.Str()
    service_point_id = fields.Int(allow_none=True)
    is_active = fields.Bool()
    created_at = fields.DateTime()
    last_seen_at = fields.DateTime(allow_none=True)


class RegisteredDeviceSchema(Schema):
    device = fields.Nested(DeviceSchema)
    token = fields.Str(
        metadata={
            "description": "The device's bearer token. Shown only now: store it on the device."
        }
    )
