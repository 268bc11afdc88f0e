"""The OpenAPI document tells the truth about errors, methods and media types."""

from __future__ import annotations

from typing import Any

from tests.support.auth import sign_in

FILE_ENDPOINTS = {
    ("/api/v1/billing/orders/{order_id}/receipt", "get"): "application/pdf",
    ("/api/v1/scheduling/appointments/{appointment_id}/calendar.ics", "get"): "text/calendar",
    ("/api/v1/queueing/tickets/{token}/qr.svg", "get"): "image/svg+xml",
    ("/api/v1/queueing/tickets/{token}/events", "get"): "text/event-stream",
    ("/api/v1/queueing/board/events", "get"): "text/event-stream",
    ("/api/v1/queueing/counters/{counter_id}/events", "get"): "text/event-stream",
    ("/api/v1/reports/{public_id}/pdf", "get"): "application/pdf",
    ("/api/v1/reports/{public_id}/document", "get"): "*/*",
    ("/api/v1/kiosk/reports/{public_id}/pdf", "post"): "application/pdf",
    ("/api/v1/kiosk/tickets/{token}/ticket.pdf", "get"): "application/pdf",
}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _schema_of(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response["content"]["application/json"]["schema"]
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]


def test_the_documented_error_body_is_the_one_answered(client: Any) -> None:
    document = client.get("/api/openapi.json").get_json()
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["code"]["type"] == "string"
    assert error["properties"]["message"]["type"] == "string"
    assert set(error["required"]) == {"code", "message"}

    answered = client.get("/api/v1/auth/me").get_json()
    assert set(answered) <= set(error["properties"])
    assert isinstance(answered["code"], str)


def test_every_operation_documents_its_error_statuses(client: Any) -> None:
    document = client.get("/api/openapi.json").get_json()
    problems = []
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        expected = {"400", "413", "415", "503", "default"}
        if method != "get":
            expected |= {"404", "409", "422", "429"}
        if "{" in path:
            expected |= {"404", "422"}
        missing = expected - set(responses)
        if missing:
            problems.append(f"{method.upper()} {path}: {sorted(missing)}")
        for status in expected & set(responses):
            if status.startswith(("4", "5")) or status == "default":
                schema = _schema_of(document, responses[status])
                if schema["properties"]["code"]["type"] != "string":
                    problems.append(f"{method.upper()} {path} {status}: not the error body")
    assert not problems, problems
    me = document["paths"]["/api/v1/auth/me"]["get"]["responses"]
    assert {"401", "403"} <= set(me)
    board = document["paths"]["/api/v1/queueing/board"]["get"]["responses"]
    assert "401" not in board  # a public screen never asks anyone to sign in


def test_every_operation_documents_its_success_answer(client: Any) -> None:
    document = client.get("/api/openapi.json").get_json()
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in _operations(document)
        if not any(status.startswith("2") for status in operation["responses"])
    ]
    assert not missing, missing


def test_every_operation_names_the_credentials_it_takes(client: Any) -> None:
    document = client.get("/api/openapi.json").get_json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["session"] == {**schemes["session"], "in": "cookie", "type": "apiKey"}
    assert schemes["device"]["scheme"] == "bearer"
    paths = document["paths"]
    assert paths["/api/v1/auth/me"]["get"]["security"] == [{"session": []}]
    assert {"device": []} in paths["/api/v1/reports/hl7"]["post"]["security"]
    assert "security" not in paths["/api/v1/queueing/board"]["get"]  # public
    assert "security" not in paths["/api/v1/queueing/tickets/{token}"]["get"]  # the token admits
    assert client.get("/api/v1/auth/me").status_code == 401


def test_rules_across_body_fields_are_in_the_document(client: Any) -> None:
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert schemas["CheckInArgs"]["oneOf"] == [
        {"required": ["appointment_id"]},
        {"required": ["code"]},
    ]


def test_every_file_and_stream_endpoint_documents_its_media_type(client: Any) -> None:
    document = client.get("/api/openapi.json").get_json()
    for (path, method), media_type in FILE_ENDPOINTS.items():
        ok = document["paths"][path][method]["responses"]["200"]
        assert media_type in ok["content"], (path, ok)


def test_an_undeclared_method_answers_405_naming_the_allowed_ones(client: Any) -> None:
    for method in ("TRACE", "PUT"):
        response = client.open("/api/v1/auth/me", method=method)
        assert response.status_code == 405
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert {"GET", "PATCH"} <= allowed and method not in allowed
        assert response.get_json()["code"] == "method_not_allowed"


def test_a_patch_without_a_body_is_refused(client: Any, hospital: Any, create_account: Any) -> None:
    account = create_account(hospital)
    sign_in(client, account)
    headers = {"X-Requested-With": "fetch"}

    refused = client.patch("/api/v1/auth/me", headers=headers)

    assert refused.status_code == 400
    assert refused.get_json()["code"] == "body_required"
    changed = client.patch("/api/v1/auth/me", json={"elder_mode": True}, headers=headers)
    assert changed.status_code == 200
    assert changed.get_json()["elder_mode"] is True
