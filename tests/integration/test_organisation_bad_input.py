"""Every organisation endpoint answers bad input with a 4xx JSON refusal that says what to fix.

Never a 500, and nothing half-written: row counts are the same before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from hospital.organisation import service
from hospital.organisation.models import Clinician, Department, ServicePoint, ServicePointKind
from tests.support.auth import sign_in
from tests.support.family_factories import (
    BadInput,
    assert_refused,
    bad_input_cases,
    fresh_requests,
    row_count,
)

URL = "/api/v1/organisation"
HUGE = b'{"name_en": "' + b"x" * (1024 * 1024 + 10) + b'"}'


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> Iterator[None]:
    with fresh_requests(app):
        yield


@pytest.fixture
def world(
    client: Any,
    hospital: Any,
    create_hospital: Any,
    create_account: Any,
    create_department: Any,
    create_clinician: Any,
) -> dict[str, Any]:
    department = service.create_department(
        actor=None,
        hospital=hospital,
        values={"code": "NK", "name_zh": "内科", "name_en": "Internal Medicine"},
        now=utcnow(),
    )
    doctor = create_account(hospital, roles=(Role.CLINICIAN,))
    clinician = create_clinician(department, account_id=doctor.id)
    point = service.create_service_point(
        actor=None,
        hospital=hospital,
        values={
            "code": "CASH-1",
            "kind": ServicePointKind.CASHIER,
            "name_zh": "收费处",
            "name_en": "Cashier",
        },
        now=utcnow(),
    )
    elsewhere = create_department(create_hospital())
    sign_in(client, create_account(hospital, roles=(Role.ADMIN,)))
    client.set_cookie("lang", "en")
    db.session.commit()
    return {
        "department": department.id,
        "clinician": clinician.id,
        "point": point.id,
        "doctor": doctor.id,
        "elsewhere": elsewhere.id,
    }


def counts() -> tuple[int, int, int]:
    return row_count(Department), row_count(Clinician), row_count(ServicePoint)


D, C, P = f"{URL}/departments", f"{URL}/clinicians", f"{URL}/service-points"
NEW_DEPARTMENT = {"code": "EK", "name_zh": "儿科", "name_en": "Paediatrics"}
NEW_CLINICIAN = {
    "department_id": "{department}",
    "name_zh": "吴静",
    "name_en": "Wu Jing",
    "title": "chief_physician",
}
NEW_POINT = {"kind": "pharmacy", "code": "PHARM-1", "name_zh": "药房", "name_en": "Pharmacy"}

# (case id, method, path, body, raw body, status, code, a word the message must name)
# fmt: off
CASES: list[tuple[str, str, str, Any, bytes | None, int, str | None, str | None]] = [
    ("search-too-long", "get", D + "?q=" + "x" * 51, None, None, 422, None, "q"),
    ("department-missing", "get", D + "/99999999", None, None, 404, "department_not_found", None),
    ("department-huge-id", "get", D + "/" + "9" * 30, None, None, 404, "not_found", None),
    ("department-elsewhere", "get", D + "/{elsewhere}", None, None, 404, "department_not_found", None),
    ("clinicians-bad-department", "get", C + "?department_id=abc", None, None, 422, None, "department_id"),
    ("clinicians-zero-department", "get", C + "?department_id=0", None, None, 422, None, "department_id"),
    ("clinicians-huge-department", "get", C + "?department_id=" + "9" * 30, None, None, 422, None, "department_id"),
    ("clinician-missing", "get", C + "/99999999", None, None, 404, "clinician_not_found", None),
    ("points-bad-kind", "get", P + "?kind=spa", None, None, 422, None, "kind"),
    ("point-missing", "get", P + "/99999999", None, None, 404, "service_point_not_found", None),
    ("add-department-malformed", "post", D, None, b'{"code": ', 400, "bad_request", None),
    ("add-department-not-object", "post", D, ["NK"], None, 422, None, None),
    ("add-department-missing-name", "post", D, {"code": "EK"}, None, 422, None, "name_zh"),
    ("add-department-bad-code", "post", D, {**NEW_DEPARTMENT, "code": "E K!"}, None, 422, None, "code"),
    ("add-department-order-as-text", "post", D, {**NEW_DEPARTMENT, "sort_order": "1"}, None, 422, None, "sort_order"),
    ("add-department-unknown", "post", D, {**NEW_DEPARTMENT, "hospital_id": 2}, None, 422, None, "hospital_id"),
    ("add-department-bad-pinyin", "post", D, {**NEW_DEPARTMENT, "pinyin_initials": "EK!"}, None, 422, None, "pinyin_initials"),
    ("add-department-too-large", "post", D, None, HUGE, 413, "body_too_large", None),
    ("add-department-duplicate", "post", D, {**NEW_DEPARTMENT, "code": "NK"}, None, 409, "duplicate_code", None),
    ("change-department-empty", "patch", D + "/{department}", {}, None, 422, None, "at least one"),
    ("change-department-null", "patch", D + "/{department}", {"name_en": None}, None, 422, None, "name_en"),
    ("change-department-blank", "patch", D + "/{department}", {"name_en": ""}, None, 422, None, "name_en"),
    ("change-department-spaces", "patch", D + "/{department}", {"name_zh": "   "}, None, 422, "blank_field", "name_zh"),
    ("change-department-unknown", "patch", D + "/{department}", {"id": 5}, None, 422, None, "id"),
    ("change-department-missing", "patch", D + "/99999999", {"name_en": "X"}, None, 404, "department_not_found", None),
    ("change-department-elsewhere", "patch", D + "/{elsewhere}", {"name_en": "X"}, None, 404, "department_not_found", None),
    ("change-department-too-large", "patch", D + "/{department}", None, HUGE, 413, "body_too_large", None),
    ("add-clinician-malformed", "post", C, None, b"{[}", 400, "bad_request", None),
    ("add-clinician-bad-title", "post", C, {**NEW_CLINICIAN, "title": "wizard"}, None, 422, None, "title"),
    ("add-clinician-department-as-text", "post", C, {**NEW_CLINICIAN, "department_id": "1"}, None, 422, None, "department_id"),
    ("add-clinician-no-department", "post", C, {**NEW_CLINICIAN, "department_id": 99999999}, None, 422, "department_not_found", None),
    ("add-clinician-department-elsewhere", "post", C, {**NEW_CLINICIAN, "department_id": "{elsewhere}"}, None, 422, "department_not_found", None),
    ("add-clinician-no-account", "post", C, {**NEW_CLINICIAN, "account_id": 99999999}, None, 422, "account_not_found", None),
    ("add-clinician-account-taken", "post", C, {**NEW_CLINICIAN, "account_id": "{doctor}"}, None, 409, "account_already_linked", None),
    ("add-clinician-unknown", "post", C, {**NEW_CLINICIAN, "salary": 1}, None, 422, None, "salary"),
    ("change-clinician-null-department", "patch", C + "/{clinician}", {"department_id": None}, None, 422, None, "department_id"),
    ("change-clinician-empty", "patch", C + "/{clinician}", {}, None, 422, None, None),
    ("change-clinician-missing", "patch", C + "/99999999", {"name_en": "X"}, None, 404, "clinician_not_found", None),
    ("change-clinician-too-large", "patch", C + "/{clinician}", None, HUGE, 413, "body_too_large", None),
    ("add-point-bad-kind", "post", P, {**NEW_POINT, "kind": "spa"}, None, 422, None, "kind"),
    ("add-point-duplicate", "post", P, {**NEW_POINT, "code": "CASH-1"}, None, 409, "duplicate_code", None),
    ("add-point-no-department", "post", P, {**NEW_POINT, "department_id": 99999999}, None, 422, "department_not_found", None),
    ("add-point-floor-too-long", "post", P, {**NEW_POINT, "floor": "x" * 11}, None, 422, None, "floor"),
    ("add-point-malformed", "post", P, None, b"nope", 400, "bad_request", None),
    ("change-point-bad-bool", "patch", P + "/{point}", {"is_active": "perhaps"}, None, 422, None, "is_active"),
    ("change-point-missing", "patch", P + "/99999999", {"name_en": "X"}, None, 404, "service_point_not_found", None),
    ("change-point-too-large", "patch", P + "/{point}", None, HUGE, 413, "body_too_large", None),
]
# fmt: on


def _fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return world[value[1:-1]]
    return value


@bad_input_cases(CASES)
def test_bad_input_is_refused_clearly_and_writes_nothing(
    client: Any, world: dict[str, Any], case: BadInput
) -> None:
    path = case.path.format(**world)
    kwargs: dict[str, Any] = {}
    if case.raw is not None:
        kwargs.update(data=case.raw, content_type="application/json")
    elif case.body is not None:
        kwargs["json"] = _fill(case.body, world)
    before = counts()

    response = getattr(client, case.method)(path, **kwargs)

    assert_refused(response, case.status, case.code, mentions=case.mentions)
    db.session.expire_all()
    assert counts() == before


def test_a_service_point_cannot_take_a_code_in_use(
    client: Any, world: dict[str, Any], hospital: Any
) -> None:
    other = service.create_service_point(
        actor=None,
        hospital=hospital,
        values={
            "code": "CASH-2",
            "kind": ServicePointKind.CASHIER,
            "name_zh": "收费处2",
            "name_en": "Cashier 2",
        },
        now=utcnow(),
    )
    db.session.commit()
    response = client.patch(f"{P}/{other.id}", json={"code": "CASH-1"})
    assert_refused(response, 409, "duplicate_code")
    db.session.expire_all()
    assert db.session.get(ServicePoint, other.id).code == "CASH-2"


def test_no_hospital_yet_is_a_clear_404(client: Any, db_session: Any) -> None:
    assert_refused(client.get(f"{URL}/hospital"), 404, "no_hospital", mentions="seed-demo")
