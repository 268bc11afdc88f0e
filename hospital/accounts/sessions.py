"""Server-side sessions behind flask-login: sign-out and disabling revoke a session at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from hospital.accounts.models import Account, AuthSession
from hospital.db import db, execute_dml, utcnow

# last_seen_at is written at most this often, so reads do not all become writes.
TOUCH_INTERVAL = timedelta(seconds=60)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(account: Account, *, now: datetime) -> str:
    """Create a new server-side session (a fresh id at every sign-in) and return its token."""
    token = secrets.token_urlsafe(32)
    days = current_app.config["SESSION_DAYS"]
    row = AuthSession(
        token_hash=token_hash(token),
        account_id=account.id,
        hospital_id=account.hospital_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=days),
        ip=(request.remote_addr or "") if has_request_context() else "",
        user_agent=(request.user_agent.string[:300]) if has_request_context() else "",
    )
    db.session.add(row)
    db.session.flush()
    account.session_token = token
    return token


def revoke_session(token: str | None, *, now: datetime) -> None:
    if not token:
        return
    db.session.execute(
        sa.update(AuthSession)
        .where(AuthSession.token_hash == token_hash(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all_sessions(account_id: int, *, now: datetime) -> int:
    result = execute_dml(
        sa.update(AuthSession)
        .where(AuthSession.account_id == account_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


_SESSION_BY_TOKEN = (
    sa.select(AuthSession)
    .where(AuthSession.token_hash == sa.bindparam("token_hash"))
    .options(sa.orm.joinedload(AuthSession.account).joinedload(Account.role_rows))
)


def account_for_token(token: str, *, now: datetime) -> Account | None:
    """The signed-in account for a session token, or None if revoked, expired, idle or disabled."""
    # Every request runs this: the session, its account and the account's roles in one query.
    row = (
        db.session.execute(_SESSION_BY_TOKEN, {"token_hash": token_hash(token)})
        .unique()
        .scalar_one_or_none()
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    account = row.account
    if not account.is_active:
        return None
    if now - row.last_seen_at > idle_limit(account):
        row.revoked_at = now
        return None
    if now - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = now
    account.session_token = token
    return account


def idle_limit(account: Account) -> timedelta:
    """How long a session may go without a request: minutes for staff, days for patients."""
    if account.is_staff:
        return timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    return timedelta(days=current_app.config["SESSION_IDLE_DAYS"])


def load_signed_in_account(token: str) -> Account | None:
    """The account of a session cookie's token (Flask-Login's user loader, set by connect())."""
    return account_for_token(token, now=utcnow())
