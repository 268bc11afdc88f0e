"""Who may call an endpoint: signed-in accounts, staff roles, and device tokens.

Use on API handlers and page views alike:

    @require_signed_in
    @require_roles(Role.NURSE, Role.ADMIN)
    @require_device(DeviceKind.KIOSK)

`current_account()` and `current_device()` give the caller inside the handler.

Each guard also declares who may call the endpoint (an `AccessPolicy` kept on the view function,
see `policy_of`). Endpoints that check their callers inside the handler, or need none, say so
with `@public("why")`, `@token_access("which token")` or `@access(...)`: a test walks the URL map
and fails for any endpoint that declares nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import g, request
from flask_login import current_user

from hospital.accounts.models import Account, Device, DeviceKind, Role
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

POLICY_ATTR = "access_policy"


@dataclasses.dataclass(frozen=True)
class AccessPolicy:
    """Who may call an endpoint: anyone named by any one field (the fields are alternatives).

    `public` and `token` hold a sentence saying why anyone, or any holder of the token in the
    URL, may call it. `signed_in` admits any signed-in account (the handler then checks which
    patients it may act for); `roles` admits accounts holding one of them; `devices` admits
    active devices of these kinds.
    """

    public: str = ""
    signed_in: bool = False
    roles: frozenset[Role] = frozenset()
    devices: frozenset[DeviceKind] = frozenset()
    token: str = ""

    def __post_init__(self) -> None:
        if not (self.public or self.signed_in or self.roles or self.devices or self.token):
            raise ValueError("An access policy must admit someone.")

    @property
    def admits_patients(self) -> bool:
        """True when a patient account (no staff role) passes the route's own check."""
        return bool(self.public) or self.signed_in or Role.PATIENT in self.roles

    def admits_role(self, role: Role) -> bool:
        return bool(self.public) or self.signed_in or role in self.roles

    def admits_device(self, kind: DeviceKind) -> bool:
        return bool(self.public) or kind in self.devices

    def narrowed_by(self, other: AccessPolicy) -> AccessPolicy:
        """The policy of two guards stacked on one view: a caller must pass both."""
        if self.public or other.public:
            return other if self.public else self
        signed_in = self.signed_in and other.signed_in
        roles = _meet(self.roles, self.signed_in, other.roles, other.signed_in)
        devices = self.devices & other.devices if self.devices and other.devices else frozenset()
        token = self.token if self.token == other.token else ""
        return AccessPolicy(signed_in=signed_in, roles=roles, devices=devices, token=token)

    def describe(self) -> str:
        parts = []
        if self.public:
            parts.append(f"public ({self.public})")
        if self.signed_in:
            parts.append("any signed-in account")
        if self.roles:
            parts.append("roles " + "/".join(sorted(r.value for r in self.roles)))
        if self.devices:
            parts.append("devices " + "/".join(sorted(d.value for d in self.devices)))
        if self.token:
            parts.append(f"token ({self.token})")
        return " or ".join(parts)


def _meet(a: frozenset[Role], a_any: bool, b: frozenset[Role], b_any: bool) -> frozenset[Role]:
    if a_any:
        return b
    if b_any:
        return a
    return a & b


def declare(fn: Any, policy: AccessPolicy) -> None:
    """Record policy on fn, narrowing a policy declared by a guard it already wraps."""
    existing = policy_of(fn)
    setattr(fn, POLICY_ATTR, existing.narrowed_by(policy) if existing else policy)


def policy_of(view: Any) -> AccessPolicy | None:
    """The policy declared on a view function or any function it wraps (None: undeclared)."""
    seen = 0
    while view is not None and seen < 50:
        policy = getattr(view, POLICY_ATTR, None)
        if isinstance(policy, AccessPolicy):
            return policy
        view = getattr(view, "__wrapped__", None) or getattr(view, "view_class", None)
        seen += 1
    return None


def _declaring(policy: AccessPolicy) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        declare(fn, policy)
        return fn

    return decorate


def public(why: str) -> Callable[[F], F]:
    """Declare that anyone may call this endpoint, and why that is safe."""
    return _declaring(AccessPolicy(public=why))


def token_access(what: str) -> Callable[[F], F]:
    """Declare that holding an unguessable token in the URL is the permission (e.g. a ticket link)."""
    return _declaring(AccessPolicy(token=what))


def access(
    *,
    signed_in: bool = False,
    roles: Iterable[Role] = (),
    devices: Iterable[DeviceKind] = (),
    token: str = "",
) -> Callable[[F], F]:
    """Declare alternatives that the handler checks itself (e.g. staff roles OR a kiosk)."""
    return _declaring(
        AccessPolicy(
            signed_in=signed_in, roles=frozenset(roles), devices=frozenset(devices), token=token
        )
    )


def current_account() -> Account | None:
    user = current_user._get_current_object()
    return user if isinstance(user, Account) else None


def signed_in_account() -> Account:
    account = current_account()
    if account is None:
        device = current_device()
        if device is not None:  # a device calling an account's endpoint: keep the refusal
            from hospital.audit.service import record

            record(
                action=f"endpoint:{request.endpoint}",
                outcome="denied",
                device=device,
                detail={"needs": "signed-in account"},
            )
        raise Unauthorized("Please sign in first.")
    return account


def require_signed_in(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        signed_in_account()
        return fn(*args, **kwargs)

    declare(wrapper, AccessPolicy(signed_in=True))
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
                    "Your account does not have the role this needs.", code=ErrorCode.ROLE_REQUIRED
                )
            return fn(*args, **kwargs)

        declare(wrapper, AccessPolicy(roles=frozenset(roles)))
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
                _record_device_denial(None, kinds)
                raise Unauthorized(
                    "This device is not registered. Ask the hospital's IT team for a device token.",
                    code=ErrorCode.DEVICE_TOKEN_REQUIRED,
                )
            if kinds and device.kind not in kinds:
                _record_device_denial(device, kinds)
                raise Forbidden(
                    "This device may not use this function.", code=ErrorCode.WRONG_DEVICE_KIND
                )
            device.last_seen_at = utcnow()
            return fn(*args, **kwargs)

        declare(wrapper, AccessPolicy(devices=frozenset(kinds or DeviceKind)))
        return wrapper  # type: ignore[return-value]

    return decorate


def _record_device_denial(device: Device | None, kinds: tuple[DeviceKind, ...]) -> None:
    """Audit a device of the wrong kind, or a signed-in account, calling a device endpoint."""
    from hospital.audit.service import record

    account = current_account()
    if device is None and account is None:
        return  # an anonymous caller: nobody to attribute the refusal to
    record(
        action=f"endpoint:{request.endpoint}",
        outcome="denied",
        actor=account,
        device=device,
        detail={"needs_device": [k.value for k in kinds]},
    )
