"""schemathesis against the app (WSGI, no network): every operation, as every kind of caller.

Part of `make test` with a fixed seed and few examples per operation (each generated request is
sent as every identity, so the examples cost generation once and requests eleven times);
`make fuzz` runs the same tests randomly seeded with more examples (HOSPITAL_FUZZ_SEED=random,
HOSPITAL_FUZZ_EXAMPLES). Every check of issue #21 is enforced, on every operation. The two bodies
written in another standard's grammar (HL7 v2 ORU^R01, FHIR R4 Bundle), which JSON Schema cannot
state, are generated whole by media-type strategies (tests/support/lab_messages.py), so "valid"
means a message the intake accepts. How a new endpoint passes: docs/api/contract.md.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import schemathesis
from flask import Flask, jsonify
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

import queueing.rest.common
from hospital.accounts.models import DeviceKind, Role
from hospital.accounts.services.devices import register_device
from hospital.db import db, utcnow
from tests.support import factories
from tests.support.auth import fresh_request_globals, sign_in
from tests.support.lab_messages import CONTRACT_MRNS, encoded, fhir_bundles, oru_r01_messages

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    unsupported_method,
    use_after_free,
    ensure_resource_availability,
    ignored_auth,
]
# Bodies in another standard's grammar (segments and fields, resources referring to each other),
# which JSON Schema cannot state: their media types get strategies that generate whole messages
# for the patients the fuzz hospital holds (CONTRACT_MRNS), so a laboratory system's "valid"
# request is one the intake stores (201). Schemathesis generates no schema-violating body for a
# media type with its own strategy: tests/contract/test_lab_message_grammar.py sends broken
# messages and bundles and proves each is refused (422) with nothing stored.
schemathesis.openapi.media_type(
    "x-application/hl7-v2+er7", encoded(oru_r01_messages()), aliases=["text/plain"]
)
schemathesis.openapi.media_type("application/fhir+json", encoded(fhir_bundles()))
EXAMPLES = int(os.environ.get("HOSPITAL_FUZZ_EXAMPLES", "2"))
STATEFUL_STEPS = int(os.environ.get("HOSPITAL_FUZZ_STATEFUL_STEPS", "3"))
STATEFUL_EXAMPLES = int(os.environ.get("HOSPITAL_FUZZ_STATEFUL_EXAMPLES", "6"))
# `make test` is reproducible: Hypothesis derandomised (its seed derives from the test). Any
# value (`make fuzz` sets "random") lets Hypothesis pick a fresh seed each run; a failure
# prints the request that reproduces it.
SEED = os.environ.get("HOSPITAL_FUZZ_SEED")
IDENTITIES = [
    "anonymous",
    "patient",
    *(f"staff:{role.value}" for role in sorted(Role) if role is not Role.PATIENT),
    *(f"device:{kind.value}" for kind in DeviceKind),
]
# The stateful run follows the document's links as the callers that create most objects.
STATEFUL_IDENTITIES = ["staff:admin", "patient"]


def _settings(examples: int, **extra: Any) -> settings:
    return settings(
        max_examples=examples,
        derandomize=SEED is None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        **extra,
    )


@pytest.fixture
def api_schema(app: Flask, db_session: Any, request: pytest.FixtureRequest) -> Any:
    # schemathesis 4.32's lazy loader reads Function._nodeid, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # The document says text never holds U+0000 (refused with a 400 before any handler runs:
    # PostgreSQL cannot store or compare it), so "valid" data has none.
    loaded.config.generation.update(allow_x00=False)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


def _headers(identity: str, app: Flask, hospital: Any) -> dict[str, str]:
    headers = {"X-Requested-With": "schemathesis"}
    if identity == "anonymous":
        return headers
    if identity.startswith("device:"):
        _device, token = register_device(
            actor=None,
            kind=DeviceKind(identity.split(":", 1)[1]),
            name="fuzz",
            location="fuzz",
            service_point_id=None,
            now=utcnow(),
            hospital=hospital,
        )
        db.session.commit()
        return {**headers, "Authorization": f"Bearer {token}"}
    role = Role.PATIENT if identity == "patient" else Role(identity.split(":", 1)[1])
    account = factories.create_account(hospital, roles=(role,))
    client = app.test_client()
    sign_in(client, account)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return {**headers, "Cookie": f"{cookie.key}={cookie.value}"}


@pytest.fixture
def identity_headers(
    app: Flask, db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, dict[str, str]]]:
    # An event stream sends its first snapshot and ends, instead of holding the test open.
    monkeypatch.setattr(queueing.rest.common, "STREAM_SECONDS", 0.0)
    hospital = factories.create_hospital()
    for mrn in CONTRACT_MRNS:  # the patients the generated laboratory messages are for
        factories.create_patient(hospital).medical_record_number = mrn
    db.session.commit()
    with fresh_request_globals(app):
        yield {identity: _headers(identity, app, hospital) for identity in IDENTITIES}


@pytest.fixture
def turns() -> Counter[str]:
    return Counter()


@schema.parametrize()
@_settings(EXAMPLES)
def test_api_answers_as_documented(
    case: Any, identity_headers: dict[str, dict[str, str]], turns: Counter[str]
) -> None:
    callers = list(identity_headers.values())
    if case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE:
        # The coverage phase's many systematic cases (each boundary, each forbidden value) go
        # to one caller each, in turn; the examples and generated cases go to every caller.
        turn = turns[case.operation.label]
        turns[case.operation.label] += 1
        callers = [callers[turn % len(callers)]]
    for headers in callers:
        case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.mark.parametrize("identity", STATEFUL_IDENTITIES)
def test_api_links_hold_as_documented(
    api_schema: Any, identity: str, identity_headers: dict[str, dict[str, str]]
) -> None:
    """Follow the links (create, then read, change or delete what was created)."""

    class Links(api_schema.as_state_machine()):  # type: ignore[misc]
        headers: ClassVar[dict[str, str]] = identity_headers[identity]

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": self.headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            # As schemathesis' own recording machine does, so the stateful checks see the steps.
            case.validate_response(
                response,
                checks=CHECKS,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Links.run(settings=_settings(STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS))


def test_an_operation_ignoring_its_credentials_fails_the_contract(
    app: Flask, api_schema: Any, identity_headers: dict[str, dict[str, str]]
) -> None:
    """The document's security is what ignored_auth holds the API to: prove the check bites."""
    (endpoint,) = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule == "/api/v1/auth/devices" and "GET" in (rule.methods or ())
    ]
    guarded = app.view_functions[endpoint]
    app.view_functions[endpoint] = lambda: jsonify([])  # answers without asking who calls
    try:
        case = api_schema["/api/v1/auth/devices"]["GET"].Case()
        with pytest.raises(FailureGroup) as failure:
            case.call_and_validate(headers=identity_headers["staff:admin"], checks=CHECKS)
        assert "without authentication" in str(failure.value.exceptions[0])
    finally:
        app.view_functions[endpoint] = guarded
