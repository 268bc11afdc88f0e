"""Ending sessions: signing out, and disabling an account."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from hospital import events
from hospital.accounts.models import Account, Role
from hospital.accounts.services.roles import role_required
from hospital.accounts.sessions import revoke_all_sessions, revoke_session
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound

REASON_MAX_LENGTH = 200


def sign_out(account: Account | None, token: str | None, *, now: datetime) -> None:
    """End one server-side session at once: a copied cookie stops working too."""
    revoke_session(token, now=now)
    if account is not None:
        record(action="sign_out", actor=account, object_type="account", object_id=str(account.id))


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(_l("Give a reason, so others know why."), code=ErrorCode.REASON_REQUIRED)
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            _l("Keep the reason to %(n)s characters or fewer.", n=REASON_MAX_LENGTH),
            code=ErrorCode.REASON_TOO_LONG,
        )
    return reason


def disable_account(
    *, actor: Account | None, account_id: int, reason: str, now: datetime
) -> Account:
    """Disable an account and end all its sessions at once (actor None: an operator at the CLI)."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise role_required("account.disable", "account", account_id, Role.ADMIN.value, actor=actor)
    reason = _reason(reason)
    target = db.session.get(Account, account_id)
    if target is None or (actor is not None and target.hospital_id != actor.hospital_id):
        raise NotFound(
            _l("There is no account %(id)s in this hospital. Check the number.", id=account_id),
            code=ErrorCode.ACCOUNT_NOT_FOUND,
        )
    if actor is not None and target.id == actor.id:
        raise Conflict(
            _l("You cannot disable your own account. Ask another administrator."),
            code=ErrorCode.CANNOT_DISABLE_SELF,
        )
    if target.is_active:
        target.is_active = False
        target.disabled_at = now
    ended = revoke_all_sessions(target.id, now=now)
    db.session.flush()
    record(
        action="account.disable",
        actor=actor,
        hospital_id=target.hospital_id,
        object_type="account",
        object_id=str(target.id),
        detail={"reason": reason, "sessions_ended": ended},
    )
    events.account_disabled.send(None, account_id=target.id, now=now)
    return target
