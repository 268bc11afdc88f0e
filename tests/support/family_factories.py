"""Family members and API refusals for the family and organisation tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, NamedTuple

import pytest
import sqlalchemy as sa
from flask import Flask, g, request_started
from flask_babel import force_locale

from hospital.db import db
from tests.support.auth import fresh_request_globals
from tests.support.factories import make_resident_id

FATHER_BORN = date(1948, 9, 3)


def person(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments for hospital.patients.services.adding.add_patient: by default an elderly father."""
    birth = overrides.pop("birth_date", FATHER_BORN)
    male = overrides.get("sex", "male") != "female"
    values: dict[str, Any] = {
        "relationship": "parent",
        "name": "李建华",
        "sex": "male",
        "birth_date": birth,
        "id_type": "resident_id",
        "id_number": make_resident_id(birth, male=male),
    }
    values.update(overrides)
    return values


def person_json(**overrides: Any) -> dict[str, Any]:
    """The same, as the JSON body of POST /api/v1/family/."""
    values = person(**overrides)
    values["birth_date"] = values["birth_date"].isoformat()
    return values


def english(message: Any) -> str:
    with force_locale("en"):
        return str(message)


def row_count(model: type[Any]) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


class BadInput(NamedTuple):
    """One request that must be refused: how it is sent, and the refusal it must get."""

    method: str
    path: str  # may name the test world's objects: "/api/v1/family/{link}"
    body: Any
    raw: bytes | None
    status: int
    code: str | None
    mentions: str | None


def bad_input_cases(cases: Sequence[tuple[Any, ...]]) -> pytest.MarkDecorator:
    """Run a test once a row (id, method, path, body, raw, status, code, mentions) as `case`."""
    return pytest.mark.parametrize(
        "case", [BadInput(*row[1:]) for row in cases], ids=[row[0] for row in cases]
    )


def assert_refused(
    response: Any, status: int, code: str | None = None, *, mentions: str | None = None
) -> dict[str, Any]:
    """A 4xx JSON refusal with a code and a message (that names `mentions`, when given)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert body.get("code") and body.get("message"), body
    if code is not None:
        assert body["code"] == code, body
    if mentions is not None:
        assert mentions in body["message"], body
    return body


def _forget_babel(_sender: Any, **_kw: Any) -> None:
    g.pop("_flask_babel", None)


@contextmanager
def fresh_requests(app: Flask) -> Iterator[None]:
    """Each test request starts with no cached user, hospital, device or language."""
    request_started.connect(_forget_babel, app)
    try:
        with fresh_request_globals(app):
            yield
    finally:
        request_started.disconnect(_forget_babel, app)
