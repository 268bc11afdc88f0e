"""Ids beyond the database's integer range are a 404 (in a path) or a 422 (in a query or body), never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from werkzeug.routing import IntegerConverter

from hospital.accounts.models import Role
from tests.support.auth import sign_in

HUGE = "99999999999999999999999"


@pytest.fixture
def admin(client: Any, hospital: Any, create_account: Any, db_session: Any) -> Any:
    account = create_account(hospital, roles=(Role.ADMIN,))
    db_session.commit()
    sign_in(client, account)
    return account


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", f"/book/sessions/{HUGE}"),
        ("get", f"/api/v1/scheduling/appointments/{HUGE}"),
        ("post", "/api/v1/queueing/counters/3747672730905137381376/pause"),
    ],
)
def test_a_huge_id_in_a_path_is_not_found(client: Any, admin: Any, method: str, url: str) -> None:
    response = getattr(client, method)(url, json={} if method == "post" else None)
    assert response.status_code == 404


def test_a_huge_service_point_id_on_a_board_is_refused(client: Any, hospital: Any) -> None:
    response = client.get(f"/api/v1/queueing/board?points={HUGE}")
    assert response.status_code == 422
    response = client.get(f"/api/v1/queueing/board?points=1,{HUGE}")
    assert response.status_code == 422
    response = client.get(f"/api/v1/queueing/board?department={HUGE}")
    assert response.status_code == 422


def test_a_huge_id_in_a_json_body_is_refused(client: Any, admin: Any) -> None:
    response = client.post(
        "/api/v1/queueing/queues", json={"service_point_id": int(HUGE), "prefix": "A"}
    )
    assert response.status_code == 422


def test_every_int_route_answers_a_huge_id_with_not_found(
    app: Any, client: Any, admin: Any
) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if not any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            continue
        url = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", lambda m: _value_for(m.group(0)), rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json={} if method != "GET" else None)
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
    assert checked > 40


def _value_for(placeholder: str) -> str:
    if placeholder.startswith("<int:"):
        return HUGE
    return "x"
