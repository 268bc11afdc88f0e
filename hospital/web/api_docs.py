"""What the OpenAPI document says beyond the schemas: the error answers and file media types.

Every operation documents the real error body (hospital.errors.ErrorSchema) for the statuses it
can answer, derived from what the application does for any request to it:
- 400 (unreadable body, missing CSRF header), 413, 415 and 503 (busy) for any operation;
- 401 and 403 unless the operation is public; 404 for an address with a path parameter, or for
  a token, or for any write (it names other objects by id);
- 409 and 429 for writes; 422 for an operation taking any input.
A status an operation documents itself is kept as written. Each operation's `security` follows
its access policy: a session cookie for accounts (patients, staff), a bearer token for devices,
none for public operations and those a token in the address admits.

A marshmallow schema whose fields alone cannot say what it accepts (one of two fields, say)
states the rest as JSON Schema in a class attribute `OPENAPI_CONSTRAINTS`, which the document
adds to the schema's definition (SchemaConstraints); its validation enforces the same rule.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import BasePlugin
from flask import Flask

from hospital.accounts.guards import AccessPolicy, policy_of

WRITES = frozenset({"post", "put", "patch", "delete"})
EVERYWHERE = ("400", "413", "415", "503")
RESPONSE_NAMES = {
    "400": "BAD_REQUEST",
    "401": "UNAUTHORIZED",
    "403": "FORBIDDEN",
    "404": "NOT_FOUND",
    "409": "CONFLICT",
    "413": "REQUEST_ENTITY_TOO_LARGE",
    "415": "UNSUPPORTED_MEDIA_TYPE",
    "422": "UNPROCESSABLE_ENTITY",
    "429": "TOO_MANY_REQUESTS",
    "503": "SERVICE_UNAVAILABLE",
}
_PATH_PARAMETER = re.compile(r"<[^>]+>")


SESSION_SCHEME = "session"
DEVICE_SCHEME = "device"


def security_schemes(app: Flask) -> dict[str, dict[str, Any]]:
    """The two ways a caller proves who it is (see SECURITY.md)."""
    return {
        SESSION_SCHEME: {
            "type": "apiKey",
            "in": "cookie",
            "name": app.config["SESSION_COOKIE_NAME"],
            "description": "A signed-in account's session (patients and staff).",
        },
        DEVICE_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A registered device's token (kiosks, display boards, lab systems).",
        },
    }


def security_of(policy: AccessPolicy | None) -> list[dict[str, list[str]]]:
    """The operation's security requirements (alternatives); none when anyone may call it."""
    if policy is None or policy.public or policy.token:
        return []
    security: list[dict[str, list[str]]] = []
    if policy.signed_in or policy.roles:
        security.append({SESSION_SCHEME: []})
    if policy.devices:
        security.append({DEVICE_SCHEME: []})
    return security


def file_response(description: str, *media_types: str) -> dict[str, Any]:
    """`@blp.doc(**file_response(...))` for an operation answering a file or an event stream."""

    def schema(media_type: str) -> dict[str, Any]:
        if media_type == "text/event-stream":
            # Each event: a snapshot of the state (JSON in `data`) or a heartbeat.
            return {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "enum": ["snapshot", "heartbeat"]},
                    "data": {"type": "string"},
                },
            }
        if media_type.startswith("text/") or media_type == "image/svg+xml":
            return {"type": "string"}
        return {"type": "string", "format": "binary"}

    content = {media_type: {"schema": schema(media_type)} for media_type in media_types}
    return {"responses": {"200": {"description": description, "content": content}}}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """`@blp.doc(**json_response(...))` for a JSON answer described as JSON Schema by hand."""
    content = {"application/json": {"schema": schema}}
    return {"responses": {"200": {"description": description, "content": content}}}


class SchemaConstraints(BasePlugin):
    """An apispec plugin adding a schema's `OPENAPI_CONSTRAINTS` (JSON Schema) to its definition."""

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        if schema is None:
            return None
        schema_class = schema if isinstance(schema, type) else type(schema)
        constraints = getattr(schema_class, "OPENAPI_CONSTRAINTS", None)
        return dict(constraints) if constraints else None


class ErrorResponses(BasePlugin):
    """An apispec plugin adding each operation's error statuses (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        policy = policy_of(self.app.view_functions.get(rule.endpoint))
        has_path_parameter = bool(_PATH_PARAMETER.search(rule.rule))
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in (
                "get",
                "post",
                "put",
                "patch",
                "delete",
            ):
                continue
            statuses = list(EVERYWHERE)
            if policy is None or not policy.public:
                statuses += ["401", "403"]
            if has_path_parameter or method in WRITES or (policy is not None and policy.token):
                statuses.append("404")
            if method in WRITES:
                statuses += ["409", "429"]
            if method in WRITES or operation.get("parameters") or has_path_parameter:
                statuses.append("422")
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(status, RESPONSE_NAMES[status])
            responses.setdefault("default", "DEFAULT_ERROR")
            security = security_of(policy)
            if security:
                operation.setdefault("security", security)
