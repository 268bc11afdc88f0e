"""Every family endpoint answers bad input with a 4xx JSON refusal that says what to fix.

Never a 500, and nothing half-written: row counts are the same before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.patients.models import FamilyLink, Patient
from hospital.patients.services import adding
from tests.support.auth import sign_in
from tests.support.family_factories import (
    BadInput,
    assert_refused,
    bad_input_cases,
    fresh_requests,
    person,
    person_json,
    row_count,
)

URL = "/api/v1/family/"
HUGE = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
XHR = {"X-Requested-With": "fetch"}


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> Iterator[None]:
    with fresh_requests(app):
        yield


@pytest.fixture
def world(client: Any, hospital: Any, create_account: Any, create_patient: Any) -> dict[str, Any]:
    """A registrar signed in (staff may also act for a family), with a link of their own."""
    desk = create_account(hospital, roles=(Role.REGISTRAR,))
    own = adding.add_patient(account=desk, **person(), now=utcnow())
    other_account = create_account(hospital)
    theirs = adding.add_patient(account=other_account, **person(), now=utcnow())
    unlinked = create_patient(hospital)
    sign_in(client, desk)
    client.set_cookie("lang", "en")
    db.session.commit()
    return {
        "link": own.id,
        "their_link": theirs.id,
        "account": other_account.id,
        "patient": unlinked.id,
    }


def counts() -> tuple[int, int, int]:
    return row_count(Patient), row_count(FamilyLink), row_count(AuditEntry)


def send(client: Any, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
    kwargs: dict[str, Any] = {"headers": XHR}
    if raw is not None:
        kwargs.update(data=raw, content_type="application/json")
    elif body is not None:
        kwargs["json"] = body
    return getattr(client, method)(path, **kwargs)


def _future() -> str:
    return (utcnow() + timedelta(days=2)).date().isoformat()  # the future in every zone


# (case id, method, path, body, raw body, status, code, a word the message must name)
# fmt: off
CASES: list[tuple[str, str, str, Any, bytes | None, int, str | None, str | None]] = [
    ("add-malformed-json", "post", URL, None, b'{"name": ', 400, "bad_request", None),
    ("add-not-an-object", "post", URL, [1, 2], None, 422, "invalid_input", None),
    ("add-empty", "post", URL, {}, None, 422, "invalid_input", "name"),
    ("add-name-not-text", "post", URL, {"name": 123}, None, 422, "invalid_input", "name"),
    ("add-bad-date", "post", URL, {"birth_date": "1948-13-40"}, None, 422, None, "birth_date"),
    ("add-bad-bool", "post", URL, {"can_book": "maybe"}, None, 422, None, "can_book"),
    ("add-bad-relationship", "post", URL, {"relationship": "uncle"}, None, 422, None, "relationship"),
    ("add-null-id", "post", URL, {"id_number": None}, None, 422, None, "id_number"),
    ("add-unknown-field", "post", URL, {"status": "vip"}, None, 422, None, "status"),
    ("add-too-large", "post", URL, None, HUGE, 413, "body_too_large", "1 MB"),
    ("add-bad-phone", "post", URL, {"phone": "12345"}, None, 422, "invalid_phone", "11 digits"),
    ("add-short-id", "post", URL, {"id_number": "1101"}, None, 422, "invalid_id_number", "18"),
    ("add-bad-check-digit", "post", URL, {"id_number": "CHECK"}, None, 422, "invalid_id_number", "check digit"),
    ("add-future-birth", "post", URL, {"birth_date": "FUTURE"}, None, 422, "invalid_birth_date", None),
    ("add-blank-name", "post", URL, {"name": " "}, None, 422, "invalid_name", None),
    ("add-bad-passport", "post", URL, {"id_type": "passport", "id_number": "A!"}, None, 422, "invalid_id_number", "passport"),
    ("get-missing", "get", URL + "99999999", None, None, 404, "link_not_found", None),
    ("get-huge-id", "get", URL + "9" * 30, None, None, 404, "not_found", None),
    ("get-theirs", "get", URL + "{their_link}", None, None, 404, "link_not_found", None),
    ("get-not-a-number", "get", URL + "abc", None, None, 404, "not_found", None),
    ("patch-malformed-json", "patch", URL + "{link}", None, b"{nope", 400, "bad_request", None),
    ("patch-empty", "patch", URL + "{link}", {}, None, 422, "invalid_input", "at least one"),
    ("patch-bad-bool", "patch", URL + "{link}", {"can_pay": [1]}, None, 422, None, "can_pay"),
    ("patch-null", "patch", URL + "{link}", {"can_pay": None}, None, 422, None, "can_pay"),
    ("patch-unknown-field", "patch", URL + "{link}", {"patient_id": 1}, None, 422, None, "patient_id"),
    ("patch-too-large", "patch", URL + "{link}", None, HUGE, 413, "body_too_large", None),
    ("patch-to-self", "patch", URL + "{link}", {"relationship": "self"}, None, 422, "own_profile_fixed", None),
    ("patch-missing", "patch", URL + "99999999", {"can_pay": False}, None, 404, "link_not_found", None),
    ("patch-huge-id", "patch", URL + "9" * 30, {"can_pay": False}, None, 404, "not_found", None),
    ("patch-theirs", "patch", URL + "{their_link}", {"can_pay": False}, None, 404, "link_not_found", None),
    ("delete-missing", "delete", URL + "99999999", None, None, 404, "link_not_found", None),
    ("delete-theirs", "delete", URL + "{their_link}", None, None, 404, "link_not_found", None),
    ("staff-malformed-json", "post", URL + "staff-links", None, b"[", 400, "bad_request", None),
    ("staff-empty", "post", URL + "staff-links", {}, None, 422, None, "account_id"),
    ("staff-id-as-text", "post", URL + "staff-links", {"account_id": "abc"}, None, 422, None, "account_id"),
    ("staff-id-as-float", "post", URL + "staff-links", {"patient_id": 1.5}, None, 422, None, "patient_id"),
    ("staff-huge-id", "post", URL + "staff-links", {"patient_id": 10**30}, None, 422, None, "patient_id"),
    ("staff-unknown-field", "post", URL + "staff-links", {"can_book": True}, None, 422, None, "can_book"),
    ("staff-unknown-permission", "post", URL + "staff-links", {"permissions": {"can_fly": True}}, None, 422, None, "can_fly"),
    ("staff-permissions-not-object", "post", URL + "staff-links", {"permissions": "all"}, None, 422, None, "permissions"),
    ("staff-too-large", "post", URL + "staff-links", None, HUGE, 413, "body_too_large", None),
    ("staff-no-such-account", "post", URL + "staff-links", {"account_id": 99999999}, None, 404, "account_not_found", None),
    ("staff-no-such-patient", "post", URL + "staff-links", {"patient_id": 99999999}, None, 404, "patient_not_found", None),
]
# fmt: on


def _body(case_body: Any, path: str, world: dict[str, Any]) -> Any:
    """Fill a partial body into a valid one, so only the named field is wrong."""
    if not isinstance(case_body, dict) or not case_body:
        return case_body
    if path.endswith("staff-links"):
        base = {
            "account_id": world["account"],
            "patient_id": world["patient"],
            "relationship": "parent",
        }
        return {**base, **case_body}
    if path != URL:
        return case_body
    body = {**person_json(), **case_body}
    if body.get("birth_date") == "FUTURE":
        body["birth_date"] = _future()
    if body.get("id_number") == "CHECK":
        good = person_json()["id_number"]
        body["id_number"] = good[:17] + ("0" if good[17] != "0" else "1")
    return body


@bad_input_cases(CASES)
def test_bad_input_is_refused_clearly_and_writes_nothing(
    client: Any, world: dict[str, Any], case: BadInput
) -> None:
    path = case.path.format(**world)
    denials_expected = case.status == 404 and case.code in ("link_not_found", "patient_not_found")
    before = counts()

    response = send(client, case.method, path, _body(case.body, path, world), case.raw)

    assert_refused(response, case.status, case.code, mentions=case.mentions)
    db.session.expire_all()
    patients, links, audit = counts()
    assert (patients, links) == before[:2]
    # A refused attempt on someone's record leaves exactly one denial in the audit log.
    assert audit == before[2] + (1 if denials_expected else 0)


def test_delete_without_the_api_header_is_refused(client: Any, world: dict[str, Any]) -> None:
    before = counts()
    response = client.delete(f"{URL}{world['link']}")
    assert_refused(response, 400, "csrf_header_missing")
    assert counts() == before


def test_a_form_post_is_refused_as_the_wrong_media_type(client: Any, world: dict[str, Any]) -> None:
    response = client.post(URL, data={"name": "x"})
    assert_refused(response, 415, "unsupported_media_type")


def test_deleting_the_own_profile_is_refused(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital)
    own = adding.add_patient(account=account, **person(relationship="self"), now=utcnow())
    sign_in(client, account)
    db.session.commit()
    response = client.delete(f"{URL}{own.id}", headers=XHR)
    assert_refused(response, 409, "cannot_remove_own_profile")
    assert row_count(FamilyLink) == 1
