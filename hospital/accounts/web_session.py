"""Tie a sign-in to the browser: a fresh server-side session per sign-in, revoked at sign-out.

Pages and the API both use these, and the rate limits below, so the rules are the same on both.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, session
from flask_login import login_user, logout_user

from hospital.accounts.guards import current_account
from hospital.accounts.models import Account
from hospital.accounts.services import disabling, sign_in
from hospital.accounts.sessions import open_session, revoke_session
from hospital.audit.service import forget_survivors
from hospital.db import db
from hospital.errors import DomainError
from hospital.extensions import limiter
from hospital.organisation.models import Hospital
from hospital.rate_limits import F, fail_closed

# The flask-login key that holds our server-side session token (see Account.get_id).
_TOKEN_KEY = "_user_id"


def sign_in_rate_limit() -> str:
    return str(current_app.config["SIGN_IN_RATE_LIMIT"])


def send_code_rate_limit() -> str:
    return str(current_app.config["SEND_CODE_RATE_LIMIT"])


# Per client address, on top of the per-phone limits kept in the database by the service. Shared
# scopes: sign-in pages and API endpoints draw on one allowance per address.
# Both fail closed when the shared store (Redis) is down: see hospital/rate_limits.py.
_sign_in_limit = limiter.shared_limit(sign_in_rate_limit, scope="sign_in")
_send_code_limit = limiter.shared_limit(send_code_rate_limit, scope="send_code")


def limit_sign_in(view: F) -> F:
    return fail_closed(_sign_in_limit(view))  # type: ignore[return-value]


def limit_send_code(view: F) -> F:
    return fail_closed(_send_code_limit(view))  # type: ignore[return-value]


def start(account: Account, *, now: datetime) -> None:
    """Sign the browser in as account with a new session id (the old session, if any, ends)."""
    revoke_session(session.get(_TOKEN_KEY), now=now)
    session.clear()
    open_session(account, now=now)
    login_user(account)
    # A patient stays signed in across browser restarts (a cookie with an expiry, lasting
    # SESSION_DAYS); a staff sign-in ends with the browser, and its idle timeout still applies.
    session.permanent = not account.is_staff


def sign_in_with_code(hospital: Hospital, phone: str, code: str, *, now: datetime) -> Account:
    """Check the code and sign the browser in; a failed try is committed before the request fails.

    Committing here, not after a rollback, keeps concurrent guesses in line: each one waits for
    the previous try to be counted, so no more than OTP_MAX_ATTEMPTS are ever compared.
    """
    try:
        account = sign_in.sign_in_with_code(hospital, phone, code, now=now)
    except DomainError:
        db.session.commit()
        forget_survivors()  # the failure's audit entry is committed already
        raise
    start(account, now=now)
    return account


def sign_in_with_password(
    hospital: Hospital, login: str, password: str, *, now: datetime
) -> Account:
    """Check the password and sign the browser in; a wrong one is counted before the request fails."""
    try:
        account = sign_in.sign_in_with_password(hospital, login, password, now=now)
    except DomainError:
        db.session.commit()  # the account's failure count and the audit entry are kept
        raise
    start(account, now=now)
    return account


def end(*, now: datetime) -> None:
    """Sign the browser out and revoke its server-side session, so copies of the cookie die too."""
    account = current_account()
    token = session.get(_TOKEN_KEY)
    disabling.sign_out(account, token, now=now)
    logout_user()
    session.clear()
