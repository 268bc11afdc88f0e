"""REST endpoints for signing in and out, one's own account, staff accounts and devices."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request
from flask_babel import get_locale
from flask_smorest import Blueprint

from hospital.accounts import web_session
from hospital.accounts.guards import public, require_roles, require_signed_in, signed_in_account
from hospital.accounts.models import Role
from hospital.accounts.schemas import (
    AccountSchema,
    DeviceArgs,
    DeviceSchema,
    NoArgs,
    PasswordSignInArgs,
    PreferencesArgs,
    ReasonArgs,
    RegisteredDeviceSchema,
    SendCodeArgs,
    SendCodeResult,
    SetPasswordArgs,
    StaffArgs,
    VerifyCodeArgs,
)
from hospital.accounts.services import (
    devices,
    disabling,
    passwords,
    preferences,
    sign_in,
    staff,
)
from hospital.db import utcnow
from hospital.organisation.lookup import current_hospital

blp = Blueprint(
    __name__.split(".")[1],
    __name__,
    description="Sign in with a one-time code or a password, sign out, manage accounts and devices.",
)


@blp.before_request
def _refuse_large_bodies() -> None:
    # Endpoints that read no body would otherwise accept an oversized one silently.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)


@blp.route("/code", methods=["POST"])
@public("sign-in: sends a code to a phone; rate-limited per address")
@web_session.limit_send_code
@blp.arguments(SendCodeArgs)
@blp.response(200, SendCodeResult)
def send_code(args: dict[str, Any]) -> dict[str, int]:
    """Send a 6-digit sign-in code by SMS to a phone number."""
    language = args["language"] or str(get_locale() or current_app.config["DEFAULT_LANGUAGE"])
    wait = sign_in.request_sign_in_code(
        current_hospital(), args["phone"], language=language, now=utcnow()
    )
    return {
        "resend_after_seconds": wait,
        "expires_in_seconds": int(current_app.config["OTP_TTL_SECONDS"]),
    }


@blp.route("/code/verify", methods=["POST"])
@public("sign-in with a code; rate-limited")
@web_session.limit_sign_in
@blp.arguments(VerifyCodeArgs)
@blp.response(200, AccountSchema)
def verify_code(args: dict[str, Any]) -> Any:
    """Sign in with the code; the first sign-in of a new phone creates a patient account."""
    return web_session.sign_in_with_code(
        current_hospital(), args["phone"], args["code"], now=utcnow()
    )


@blp.route("/password", methods=["POST"])
@public("sign-in with a password; rate-limited")
@web_session.limit_sign_in
@blp.arguments(PasswordSignInArgs)
@blp.response(200, AccountSchema)
def password_sign_in(args: dict[str, Any]) -> Any:
    """Sign in with a phone number (patients) or username (staff) and a password."""
    return web_session.sign_in_with_password(
        current_hospital(), args["login"], args["password"], now=utcnow()
    )


@blp.route("/sign-out", methods=["POST"])
@public("ends the caller's own session, if any")
@blp.arguments(NoArgs, required=False)
@blp.response(204)
def sign_out(_args: dict[str, Any]) -> None:
    """End this session on the server at once (a copy of the cookie stops working too)."""
    web_session.end(now=utcnow())


@blp.route("/me", methods=["GET"])
@require_signed_in
@blp.response(200, AccountSchema)
def me() -> Any:
    """The signed-in account."""
    return signed_in_account()


@blp.route("/me", methods=["PATCH"])
@require_signed_in
@blp.arguments(PreferencesArgs)
@blp.response(200, AccountSchema)
def update_me(args: dict[str, Any]) -> Any:
    """Change language, elder mode or display name."""
    return preferences.update_preferences(account=signed_in_account(), **args)


@blp.route("/me/password", methods=["POST"])
@require_signed_in
@web_session.limit_sign_in
@blp.arguments(SetPasswordArgs)
@blp.response(204)
def set_password(args: dict[str, Any]) -> None:
    """Set a password (after a code sign-in) or change it; other sessions end."""
    passwords.set_password(
        account=signed_in_account(),
        new_password=args["new_password"],
        current_password=args["current_password"],
        now=utcnow(),
    )


@blp.route("/accounts/<int:account_id>/disable", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(ReasonArgs)
@blp.response(200, AccountSchema)
def disable_account(args: dict[str, Any], account_id: int) -> Any:
    """Disable an account of this hospital and end all its sessions at once (administrators)."""
    return disabling.disable_account(
        actor=signed_in_account(), account_id=account_id, reason=args["reason"], now=utcnow()
    )


@blp.route("/staff", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(StaffArgs)
@blp.response(201, AccountSchema)
def create_staff(args: dict[str, Any]) -> Any:
    """Create a staff account in this hospital (administrators)."""
    actor = signed_in_account()
    return staff.create_staff(current_hospital(), now=utcnow(), actor=actor, **args)


@blp.route("/devices", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(DeviceArgs)
@blp.response(201, RegisteredDeviceSchema)
def register_device(args: dict[str, Any]) -> Any:
    """Register a kiosk, display board or lab system; the token is shown only in this answer."""
    device, token = devices.register_device(actor=signed_in_account(), now=utcnow(), **args)
    return {"device": device, "token": token}


@blp.route("/devices", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.response(200, DeviceSchema(many=True))
def list_devices() -> Any:
    """The devices of this hospital (administrators)."""
    return devices.list_devices(actor=signed_in_account())


@blp.route("/devices/<int:device_id>/disable", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(NoArgs, required=False)
@blp.response(200, DeviceSchema)
def disable_device(_args: dict[str, Any], device_id: int) -> Any:
    """Refuse this device's token from now on (administrators)."""
    return devices.disable_device(actor=signed_in_account(), device_id=device_id, now=utcnow())
