"""Who may call an endpoint: signed-in accounts, staff roles, and device tokens.

Use on API handlers and page views alike:

    @require_signed_in
    @require_roles(Role.NURSE, Role.ADMIN)
    @require_device(DeviceKind.KIOSK)

`current_account()` and `current_device()` give the caller inside the handler.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g, request
from flask_login import current_user

from hospital.accounts.models import Account, Device, DeviceKind, Role
from hospital.db import db, utcnow
from hospital.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


def current_account() -> Account | None:
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return user if isinstance(user, Account) else None


def signed_in_account() -> Account:
    account = current_account()
    if account is None:
        raise Unauthorized("Please sign in first.")
    return account


def require_signed_in(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        signed_in_account()
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_roles(*roles: Role) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = signed_in_account()
            if not account.has_role(*roles):
                from hospital.audit.service import record

                record(
                    action=f"endpoint:{request.endpoint}",
                    outcome="denied",
                    actor=account,
                    detail={"needs": [r.value for r in roles]},
                )
                raise Forbidden(
                    "Your account does not have the role this needs.", code="role_required"
                )
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def device_for_token(token: str) -> Device | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return db.session.scalar(
        sa.select(Device).where(Device.token_hash == digest, Device.is_active.is_(True))
    )


def current_device() -> Device | None:
    if "device" not in g:
        header = request.headers.get("Authorization", "")
        token = (
            header[7:].strip()
            if header.startswith("Bearer ")
            else request.cookies.get("device_token", "")
        )
        g.device = device_for_token(token) if token else None
    return g.device


def require_device(*kinds: DeviceKind) -> Callable[[F], F]:
    """Allow only an active device of these kinds (token in `Authorization: Bearer …` or a cookie)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            device = current_device()
            if device is None:
                raise Unauthorized(
                    "This device is not registered. Ask the hospital's IT team for a device token.",
                    code="device_token_required",
                )
            if kinds and device.kind not in kinds:
                raise Forbidden("This device may not use this function.", code="wrong_device_kind")
            device.last_seen_at = utcnow()
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
