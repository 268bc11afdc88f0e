"""Every authentication endpoint answers bad input with a 4xx that says what to fix, and writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account, AccountRole, AuthSession, Device, OneTimeCode, Role
from hospital.db import db
from hospital.notifications.models import OutboxMessage
from tests.support.auth import fresh_request_globals, sign_in

PREFIX = "/api/v1/auth"


@pytest.fixture(autouse=True)
def _fresh_globals(app: Any) -> Iterator[None]:
    with fresh_request_globals(app):
        yield


@pytest.fixture
def admin_client(client: Any, create_hospital: Any, create_account: Any) -> Any:
    hospital = create_hospital()
    admin = create_account(hospital, roles=(Role.ADMIN,))
    client.set_cookie("lang", "en")
    sign_in(client, admin)
    client.admin = admin
    return client


# (method, path, a valid body, a body with a wrong type, the field that body gets wrong)
ENDPOINTS = [
    ("post", "/code", {"phone": "13800138000"}, {"phone": 13800138000}, "phone"),
    (
        "post",
        "/code/verify",
        {"phone": "13800138000", "code": "123456"},
        {"phone": "13800138000", "code": 123456},
        "code",
    ),
    (
        "post",
        "/password",
        {"login": "someone", "password": "pw123456"},
        {"login": ["someone"], "password": "pw123456"},
        "login",
    ),
    ("post", "/sign-out", {}, [], "_schema"),
    ("patch", "/me", {"elder_mode": True}, {"elder_mode": "yes"}, "elder_mode"),
    (
        "post",
        "/me/password",
        {"new_password": "long enough 1"},
        {"new_password": {"a": 1}},
        "new_password",
    ),
    ("post", "/accounts/{admin}/disable", {"reason": "x"}, {"reason": 5}, "reason"),
    (
        "post",
        "/staff",
        {"username": "abc", "password": "pw 123456", "roles": ["lab"], "display_name": "A"},
        {"username": "abc", "password": "pw 123456", "roles": "lab", "display_name": "A"},
        "roles",
    ),
    (
        "post",
        "/devices",
        {"kind": "kiosk", "name": "K"},
        {"kind": "kiosk", "name": "K", "service_point_id": "1"},
        "service_point_id",
    ),
    ("post", "/devices/1/disable", {}, [1], "_schema"),
]
IDS = [f"{m.upper()} {p}" for m, p, *_ in ENDPOINTS]


def _counts() -> dict[str, int]:
    tables = (Account, AccountRole, AuthSession, OneTimeCode, OutboxMessage, Device)
    return {
        t.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(t))
        for t in tables
    }


def _call(client: Any, method: str, path: str, **kw: Any) -> Any:
    path = path.format(admin=client.admin.id)
    return getattr(client, method)(PREFIX + path, **kw)


def _assert_says_what_to_fix(response: Any, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json
    assert response.json["code"]
    assert len(response.json["message"]) > 10


@pytest.mark.parametrize(("method", "path", "valid", "wrong", "field"), ENDPOINTS, ids=IDS)
def test_malformed_json_is_refused(
    admin_client: Any, method: str, path: str, valid: Any, wrong: Any, field: str
) -> None:
    before = _counts()
    response = _call(
        admin_client, method, path, data='{"phone": "1380', content_type="application/json"
    )
    _assert_says_what_to_fix(response, 400)
    assert "JSON" in response.json["message"]
    assert _counts() == before


@pytest.mark.parametrize(("method", "path", "valid", "wrong", "field"), ENDPOINTS, ids=IDS)
def test_wrong_types_are_refused_naming_the_field(
    admin_client: Any, method: str, path: str, valid: Any, wrong: Any, field: str
) -> None:
    before = _counts()
    response = _call(admin_client, method, path, json=wrong)
    _assert_says_what_to_fix(response, 422)
    assert field in response.json["message"]
    assert _counts() == before


@pytest.mark.parametrize(("method", "path", "valid", "wrong", "field"), ENDPOINTS, ids=IDS)
def test_unknown_fields_are_refused(
    admin_client: Any, method: str, path: str, valid: Any, wrong: Any, field: str
) -> None:
    before = _counts()
    response = _call(admin_client, method, path, json={**valid, "is_admin": True})
    _assert_says_what_to_fix(response, 422)
    assert "is_admin" in response.json["message"]
    assert _counts() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, *_ in ENDPOINTS] + [("get", "/me"), ("get", "/devices")],
    ids=IDS + ["GET /me", "GET /devices"],
)
def test_bodies_over_one_megabyte_are_refused(admin_client: Any, method: str, path: str) -> None:
    before = _counts()
    response = _call(admin_client, method, path, json={"phone": "1" * (1024 * 1024 + 1)})
    _assert_says_what_to_fix(response, 413)
    assert _counts() == before


@pytest.mark.parametrize("path", ["/code", "/code/verify"])
@pytest.mark.parametrize("phone", ["12345", "phone", "+86 1380013800a", ""])
def test_invalid_phone_numbers_are_refused_with_the_expected_form(
    client: Any, create_hospital: Any, path: str, phone: str
) -> None:
    create_hospital()
    db.session.commit()
    client.set_cookie("lang", "en")
    before = _counts()
    body = {"phone": phone, "code": "123456"} if path.endswith("verify") else {"phone": phone}
    response = client.post(PREFIX + path, json=body)
    _assert_says_what_to_fix(response, 422)
    assert "11 digits" in response.json["message"] or "phone" in response.json["message"]
    assert _counts() == before


@pytest.mark.parametrize("path", ["/accounts/999999999/disable", "/devices/999999999/disable"])
def test_ids_that_do_not_exist_are_404(admin_client: Any, path: str) -> None:
    body = {"reason": "x"} if "accounts" in path else {}
    response = _call(admin_client, "post", path, json=body)
    _assert_says_what_to_fix(response, 404)
    assert "999999999" in response.json["message"]


def test_a_non_number_id_is_404(admin_client: Any) -> None:
    response = _call(admin_client, "post", "/accounts/abc/disable", json={"reason": "x"})
    _assert_says_what_to_fix(response, 404)


def test_cookie_authenticated_form_post_is_refused(admin_client: Any) -> None:
    response = _call(admin_client, "patch", "/me", data={"elder_mode": "true"})
    assert response.status_code in (400, 415)
    assert response.json["code"] in ("csrf_header_missing", "unsupported_media_type")


def test_signed_out_caller_gets_401_not_a_validation_error(client: Any) -> None:
    response = client.patch(PREFIX + "/me", json={"elder_mode": "yes"})
    assert response.status_code == 401
