"""Password rules and setting or changing an account's password."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.accounts.passwords import hash_password, verify_password
from hospital.accounts.sessions import revoke_all_sessions
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, InvalidInput

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def check_new_password(password: str) -> None:
    """Refuse a new password that is too short, too long or too easy to guess."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(
            _l("Choose a password of at least %(n)s characters.", n=PASSWORD_MIN_LENGTH),
            code=ErrorCode.PASSWORD_TOO_SHORT,
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            _l("Choose a password of at most %(n)s characters.", n=PASSWORD_MAX_LENGTH),
            code=ErrorCode.PASSWORD_TOO_LONG,
        )
    if password.strip() == "" or len(set(password)) < 3:
        raise InvalidInput(
            _l("This password is too easy to guess. Mix more different characters."),
            code=ErrorCode.PASSWORD_TOO_WEAK,
        )


def set_password(
    *, account: Account, new_password: str, current_password: str | None, now: datetime
) -> None:
    """Set or change the password; other sessions of the account end."""
    if account.password_hash is not None and not verify_password(
        account.password_hash, current_password or ""
    ):
        record(
            action="account.set_password",
            outcome=Outcome.FAILED,
            actor=account,
            object_type="account",
            object_id=str(account.id),
            detail={"reason": "wrong_current_password"},
        )
        raise Forbidden(
            _l("Your current password is not right. Enter it again."),
            code=ErrorCode.CURRENT_PASSWORD_WRONG,
        )
    check_new_password(new_password)
    account.password_hash = hash_password(new_password)
    keep = account.session_token
    revoked = 0
    if keep:
        from hospital.accounts.models import AuthSession
        from hospital.accounts.sessions import token_hash

        revoked = (
            execute_dml(
                sa.update(AuthSession)
                .where(
                    AuthSession.account_id == account.id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.token_hash != token_hash(keep),
                )
                .values(revoked_at=now)
            ).rowcount
            or 0
        )
    else:
        revoked = revoke_all_sessions(account.id, now=now)
    db.session.flush()
    record(
        action="account.set_password",
        actor=account,
        object_type="account",
        object_id=str(account.id),
        detail={"other_sessions_ended": revoked},
    )
