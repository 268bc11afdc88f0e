"""Passwords: staff and patient sign-in, one message for every failure, setting and changing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account, Role
from hospital.accounts.services import passwords
from hospital.accounts.services import sign_in as accounts_sign_in
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.errors import Forbidden, InvalidInput
from tests.support.auth import fresh_request_globals, last_sign_in_code, sign_in

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


def _sign_in(client: Any, login: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/password", json={"login": login, "password": password})


def test_staff_sign_in_with_username_and_password(
    client: Any, hospital: Any, create_account: Any
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,), password=PASSWORD, username="li.na")
    db.session.commit()

    response = _sign_in(client, "Li.Na")

    assert response.status_code == 200, response.json
    assert response.json["id"] == nurse.id
    assert response.json["roles"] == ["nurse"]
    assert response.json["has_password"] is True
    assert "password_hash" not in response.json and "password" not in response.json


def test_unknown_login_and_wrong_password_fail_alike(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()

    wrong_password = _sign_in(client, account.phone, "not the password")
    unknown_phone = _sign_in(client, "13900000000")
    unknown_user = _sign_in(client, "nobody")

    for response in (wrong_password, unknown_phone, unknown_user):
        assert response.status_code == 401
        assert response.json["code"] == "sign_in_failed"
    assert wrong_password.json["message"] == unknown_phone.json["message"]
    assert wrong_password.json["message"] == unknown_user.json["message"]
    assert client.get("/api/v1/auth/me").status_code == 401


def test_failed_and_successful_sign_ins_are_audited(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    _sign_in(client, account.phone, "not the password")
    _sign_in(client, "nobody")
    _sign_in(client, account.phone)

    rows = (
        db.session.execute(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "sign_in.password")
            .order_by(AuditEntry.id)
        )
        .scalars()
        .all()
    )
    assert [(r.outcome.value, r.actor_account_id, r.detail.get("reason")) for r in rows] == [
        ("failed", account.id, "wrong_password"),
        ("failed", None, "unknown_login"),
        ("success", account.id, None),
    ]
    assert all(r.hospital_id == hospital.id and r.ip for r in rows)


def test_patient_sets_a_password_after_a_code_sign_in_then_uses_it(
    client: Any, app: Any, hospital: Any
) -> None:
    phone = "13700137000"
    client.post("/api/v1/auth/code", json={"phone": phone})
    client.post("/api/v1/auth/code/verify", json={"phone": phone, "code": last_sign_in_code(phone)})
    assert client.get("/api/v1/auth/me").json["has_password"] is False

    response = client.post("/api/v1/auth/me/password", json={"new_password": PASSWORD})
    assert response.status_code == 204, response.json
    client.post("/api/v1/auth/sign-out", json={})

    assert _sign_in(app.test_client(), phone).status_code == 200


def test_changing_a_password_needs_the_current_one_and_ends_other_sessions(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    other_device = app.test_client()
    _sign_in(other_device, account.phone)
    _sign_in(client, account.phone)

    refused = client.post(
        "/api/v1/auth/me/password",
        json={"new_password": "a new secret 9", "current_password": "guess"},
    )
    assert refused.status_code == 403
    assert refused.json["code"] == "current_password_wrong"

    changed = client.post(
        "/api/v1/auth/me/password",
        json={"new_password": "a new secret 9", "current_password": PASSWORD},
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 200
    assert other_device.get("/api/v1/auth/me").status_code == 401
    assert _sign_in(app.test_client(), account.phone).status_code == 401
    assert _sign_in(app.test_client(), account.phone, "a new secret 9").status_code == 200


def test_too_short_password_is_refused_with_what_to_do(hospital: Any, create_account: Any) -> None:
    account = create_account(hospital)
    with pytest.raises(InvalidInput) as refused:
        passwords.set_password(
            account=account, new_password="short", current_password=None, now=utcnow()
        )
    assert refused.value.code == "password_too_short"
    assert account.password_hash is None


def test_disabled_account_cannot_sign_in(hospital: Any, create_account: Any) -> None:
    account = create_account(hospital, password=PASSWORD, is_active=False)
    with pytest.raises(Forbidden) as refused:
        accounts_sign_in.sign_in_with_password(hospital, account.phone, PASSWORD, now=utcnow())
    assert refused.value.code == "account_disabled"


def test_staff_cannot_sign_in_by_code(hospital: Any, create_account: Any) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,), phone="13600136000")
    now = utcnow()
    accounts_sign_in.request_sign_in_code(hospital, nurse.phone, language="zh", now=now)
    with pytest.raises(Forbidden) as refused:
        accounts_sign_in.sign_in_with_code(
            hospital, nurse.phone, last_sign_in_code(nurse.phone), now=now
        )
    assert refused.value.code == "staff_use_password"


def test_preferences_are_updated(client: Any, hospital: Any, create_account: Any) -> None:
    account = create_account(hospital)
    sign_in(client, account)

    response = client.patch(
        "/api/v1/auth/me",
        json={"language": "en", "elder_mode": True, "display_name": "  Zhang   San "},
    )

    assert response.status_code == 200, response.json
    assert response.json["language"] == "en"
    assert response.json["elder_mode"] is True
    assert response.json["display_name"] == "Zhang San"
    db.session.expire_all()
    stored = db.session.get(Account, account.id)
    assert stored is not None and stored.elder_mode is True
