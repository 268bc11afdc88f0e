"""Server-side sessions: sign-out and disabling end them at once, ids rotate, staff go idle."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import AuthSession, Role
from hospital.accounts.sessions import account_for_token, open_session
from hospital.db import db, utcnow
from tests.support.auth import fresh_request_globals, sign_in

COOKIE = "hospital_session"
PASSWORD = "correct horse 7"


@pytest.fixture(autouse=True)
def _fresh_globals(app: Any) -> Iterator[None]:
    with fresh_request_globals(app):
        yield


@pytest.fixture
def hospital(create_hospital: Any, db_session: Any) -> Any:
    created = create_hospital()
    db_session.commit()
    return created


def _copy_of(client: Any, app: Any) -> Any:
    """A second browser holding a copy of client's session cookie."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    other = app.test_client()
    other.set_cookie(COOKIE, cookie.value)
    return other


def _token(client: Any) -> str:
    with client.session_transaction() as session:
        return session["_user_id"]


def _password_sign_in(client: Any, login: str) -> Any:
    return client.post("/api/v1/auth/password", json={"login": login, "password": PASSWORD})


def test_sign_in_helper_signs_a_client_in(client: Any, hospital: Any, create_account: Any) -> None:
    account = create_account(hospital)
    sign_in(client, account)
    assert client.get("/api/v1/auth/me").json["id"] == account.id


def test_sign_out_ends_the_session_for_a_copied_cookie_too(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    assert _password_sign_in(client, account.phone).status_code == 200
    thief = _copy_of(client, app)
    assert thief.get("/api/v1/auth/me").status_code == 200

    assert client.post("/api/v1/auth/sign-out", json={}).status_code == 204

    assert client.get("/api/v1/auth/me").status_code == 401
    refused = thief.get("/api/v1/auth/me")
    assert refused.status_code == 401
    assert refused.json["code"] == "sign_in_required"


def test_disabling_an_account_ends_all_its_sessions(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    patient = create_account(hospital, password=PASSWORD)
    admin = create_account(hospital, roles=(Role.ADMIN,))
    db.session.commit()
    phone_browser, laptop = app.test_client(), app.test_client()
    _password_sign_in(phone_browser, patient.phone)
    _password_sign_in(laptop, patient.phone)
    thief = _copy_of(laptop, app)
    sign_in(client, admin)

    response = client.post(
        f"/api/v1/auth/accounts/{patient.id}/disable", json={"reason": "Reported stolen phone"}
    )

    assert response.status_code == 200, response.json
    assert response.json["is_active"] is False
    for browser in (phone_browser, laptop, thief):
        assert browser.get("/api/v1/auth/me").status_code == 401
    assert _password_sign_in(app.test_client(), patient.phone).status_code == 403


def test_session_id_rotates_at_every_sign_in(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    _password_sign_in(client, account.phone)
    first = _token(client)
    before = _copy_of(client, app)

    _password_sign_in(client, account.phone)

    assert _token(client) != first
    assert client.get("/api/v1/auth/me").status_code == 200
    assert before.get("/api/v1/auth/me").status_code == 401, "the old session ended"


def test_signing_in_over_a_planted_session_gives_a_new_one(
    client: Any, hospital: Any, create_account: Any
) -> None:
    victim = create_account(hospital, password=PASSWORD)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = "planted-by-an-attacker"

    _password_sign_in(client, victim.phone)

    assert _token(client) != "planted-by-an-attacker"


def test_staff_session_ends_after_the_idle_time(
    app: Any, hospital: Any, create_account: Any
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    now = utcnow()
    token = open_session(nurse, now=now)
    idle = timedelta(minutes=app.config["STAFF_IDLE_MINUTES"])

    assert account_for_token(token, now=now + idle - timedelta(seconds=1)) is not None
    later = now + idle - timedelta(seconds=1) + idle + timedelta(seconds=1)
    assert account_for_token(token, now=later) is None
    assert account_for_token(token, now=now + timedelta(seconds=1)) is None, "revoked for good"
    row = db.session.scalar(sa.select(AuthSession).where(AuthSession.account_id == nurse.id))
    assert row is not None and row.revoked_at is not None


def test_activity_keeps_a_staff_session_alive(app: Any, hospital: Any, create_account: Any) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    now = utcnow()
    token = open_session(nurse, now=now)
    step = timedelta(minutes=app.config["STAFF_IDLE_MINUTES"] - 1)
    for n in range(1, 5):
        assert account_for_token(token, now=now + n * step) is not None


def test_patient_sessions_outlast_the_staff_idle_time(
    app: Any, hospital: Any, create_account: Any
) -> None:
    patient = create_account(hospital)
    now = utcnow()
    token = open_session(patient, now=now)
    assert account_for_token(token, now=now + timedelta(hours=12)) is not None
    days = timedelta(days=app.config["SESSION_DAYS"])
    assert account_for_token(token, now=now + days) is None


def test_a_patient_session_ends_after_the_idle_days(
    app: Any, hospital: Any, create_account: Any
) -> None:
    patient = create_account(hospital)
    now = utcnow()
    token = open_session(patient, now=now)
    idle = timedelta(days=app.config["SESSION_IDLE_DAYS"])
    assert idle == timedelta(days=7)

    assert account_for_token(token, now=now + idle - timedelta(minutes=1)) is not None
    later = now + idle - timedelta(minutes=1) + idle + timedelta(minutes=1)
    assert account_for_token(token, now=later) is None
    assert account_for_token(token, now=now + idle) is None, "revoked for good"


def test_a_used_patient_session_lasts_the_session_days(
    app: Any, hospital: Any, create_account: Any
) -> None:
    patient = create_account(hospital)
    now = utcnow()
    token = open_session(patient, now=now)
    step = timedelta(days=app.config["SESSION_IDLE_DAYS"] - 1)
    days = timedelta(days=app.config["SESSION_DAYS"])
    at = now
    while at + step < now + days:
        at += step
        assert account_for_token(token, now=at) is not None
    assert account_for_token(token, now=now + days) is None


def _session_cookie_header(response: Any) -> str:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "=")]
    return header


def test_a_patient_stays_signed_in_across_a_browser_restart(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    response = _password_sign_in(client, account.phone)
    assert response.status_code == 200

    header = _session_cookie_header(response)
    expires = re.search(r"Expires=([^;]+)", header)
    assert expires, f"a cookie without an expiry dies with the browser: {header}"
    lifetime = parsedate_to_datetime(expires.group(1)) - utcnow().replace(tzinfo=UTC)
    days = timedelta(days=app.config["SESSION_DAYS"])
    assert days - timedelta(minutes=5) < lifetime <= days
    # A browser restart keeps cookies with an expiry: the session still answers.
    restarted = app.test_client()
    restarted.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    assert restarted.get("/api/v1/auth/me").json["id"] == account.id


def test_a_staff_session_ends_with_the_browser(
    client: Any, hospital: Any, create_account: Any
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,), password=PASSWORD)
    db.session.commit()
    response = _password_sign_in(client, nurse.username)
    assert response.status_code == 200

    header = _session_cookie_header(response)
    assert "Expires=" not in header and "Max-Age=" not in header, header


def test_signing_out_leaves_no_lasting_cookie(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    _password_sign_in(client, account.phone)
    response = client.post("/api/v1/auth/sign-out", json={})
    assert response.status_code == 204
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(COOKIE + "=") and "Expires=" in header:
            expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", header).group(1))
            assert expires <= utcnow().replace(tzinfo=UTC) + timedelta(minutes=1), header


def test_sign_out_needs_no_body_is_harmless_twice_and_is_audited(
    client: Any, hospital: Any, create_account: Any
) -> None:
    from hospital.audit.models import AuditEntry

    account = create_account(hospital)
    sign_in(client, account)
    headers = {"X-Requested-With": "fetch"}

    assert client.post("/api/v1/auth/sign-out", headers=headers).status_code == 204
    assert client.post("/api/v1/auth/sign-out", headers=headers).status_code == 204

    assert client.get("/api/v1/auth/me").status_code == 401
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.actor_account_id == account.id)
    ).all()
    assert actions == ["sign_out"]
