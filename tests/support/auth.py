"""Sign a Flask test client in as an account without the sign-in flow, and read sent codes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, request_started

from hospital.accounts.models import Account
from hospital.accounts.sessions import open_session
from hospital.db import db, utcnow

# Per-request values kept on `g`. In tests the requests reuse the test's app context (and so
# its `g`), so without clearing them one request would see the previous request's user.
REQUEST_GLOBALS = ("_login_user", "hospital", "device", "_flask_babel")


def sign_in(client: Any, account: Account, *, now: datetime | None = None) -> str:
    """Open a server-side session for the account and put its token in the client's cookie.

    Call it inside the test's app context (any integration test using the `client` or
    `db_session` fixture has one). It commits (into the test's outer transaction, which is
    still rolled back at the end), so a request that fails and rolls back does not take the
    session, or the rows the test set up before, with it. Returns the session token.
    """
    token = open_session(account, now=now or utcnow())
    db.session.commit()
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = token
        session["_fresh"] = True
    return token


def _forget_request_globals(_sender: Any, **_kw: Any) -> None:
    for name in REQUEST_GLOBALS:
        g.pop(name, None)


@contextmanager
def fresh_request_globals(app: Flask) -> Iterator[None]:
    """Make every request start with no cached user, hospital or device, as in production."""
    request_started.connect(_forget_request_globals, app)
    try:
        yield
    finally:
        request_started.disconnect(_forget_request_globals, app)


def last_sign_in_code(phone: str) -> str:
    """The code in the latest sign-in SMS written to the outbox for phone."""
    from hospital.notifications.models import OutboxMessage

    body = db.session.scalar(
        sa.select(OutboxMessage.body)
        .where(OutboxMessage.recipient == phone, OutboxMessage.template == "sign_in_code")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    assert body is not None, f"no sign-in code was sent to {phone}"
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)
