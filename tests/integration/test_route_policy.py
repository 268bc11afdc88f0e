"""Every endpoint of the URL map declares who may call it, so no route ships unguarded."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from flask import Flask
from flask_smorest import Blueprint

from hospital.accounts.guards import (
    AccessPolicy,
    access,
    policy_of,
    public,
    require_device,
    require_roles,
    require_signed_in,
    token_access,
)
from hospital.accounts.models import DeviceKind, Role
from hospital.app import create_app
from hospital.web.route_policy import LIBRARY_POLICIES, route_policies
from tests.conftest import TEST_CONFIG


@pytest.fixture(scope="module")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    url = "sqlite:///" + str(tmp_path_factory.mktemp("policy") / "policy.db")
    return create_app({**TEST_CONFIG, "DATABASE_URL": url})


def test_every_endpoint_declares_who_may_call_it(built_app: Flask) -> None:
    undeclared = sorted(e for e, policy in route_policies(built_app).items() if policy is None)
    assert not undeclared, (
        "These endpoints declare no access policy. Add a guard (require_signed_in, "
        "require_roles, require_device) or an explicit @public(...), @token_access(...) or "
        "@access(...) from hospital.accounts.guards; library endpoints go in "
        f"hospital/web/route_policy.py LIBRARY_POLICIES: {undeclared}"
    )


def test_the_library_table_names_only_endpoints_that_exist(built_app: Flask) -> None:
    assert set(LIBRARY_POLICIES) <= set(built_app.view_functions)


def test_every_public_endpoint_says_why(built_app: Flask) -> None:
    """A public endpoint must say why; the reason is part of the table."""
    for endpoint, policy in route_policies(built_app).items():
        assert policy is not None
        if policy.public:
            assert len(policy.public) > 8, endpoint


def test_a_new_undecorated_route_is_named_by_the_walk(built_app: Flask) -> None:
    app = Flask("probe")
    app.add_url_rule("/probe/<int:thing_id>", "probe.leaky", lambda thing_id: "data")
    assert route_policies(app)["probe.leaky"] is None
    assert route_policies(app)["static"] is not None


def test_stacked_guards_declare_the_narrower_policy() -> None:
    @require_signed_in
    @require_roles(Role.NURSE, Role.ADMIN)
    def nurse_view() -> None: ...

    @require_roles(Role.NURSE, Role.LAB)
    @require_roles(Role.NURSE, Role.ADMIN)
    def both() -> None: ...

    assert policy_of(nurse_view) == AccessPolicy(roles=frozenset({Role.NURSE, Role.ADMIN}))
    assert policy_of(both) == AccessPolicy(roles=frozenset({Role.NURSE}))


def test_the_policy_survives_outer_wrappers_and_smorest() -> None:
    def outer(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            return fn(*a, **kw)

        return wrapper

    app = Flask("probe")
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.2")
    from flask_smorest import Api

    api = Api(app)
    blp = Blueprint("probe", __name__)

    @blp.route("/a/<token>")
    @outer
    @token_access("probe token")
    @blp.response(200)
    def a(token: str) -> dict[str, str]:
        return {}

    @blp.route("/b")
    @require_device(DeviceKind.KIOSK)
    @outer
    def b() -> dict[str, str]:
        return {}

    @blp.route("/c")
    @access(roles=[Role.NURSE], devices=[DeviceKind.KIOSK])
    def c() -> dict[str, str]:
        return {}

    @blp.route("/d")
    @public("a probe")
    def d() -> dict[str, str]:
        return {}

    api.register_blueprint(blp)
    policies = route_policies(app)
    assert policies["probe.a"] == AccessPolicy(token="probe token")
    assert policies["probe.b"] == AccessPolicy(devices=frozenset({DeviceKind.KIOSK}))
    assert policies["probe.c"] == AccessPolicy(
        roles=frozenset({Role.NURSE}), devices=frozenset({DeviceKind.KIOSK})
    )
    assert policies["probe.d"] == AccessPolicy(public="a probe")


def test_a_policy_must_admit_someone() -> None:
    with pytest.raises(ValueError):
        AccessPolicy()
