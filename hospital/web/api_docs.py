"""What the OpenAPI document says beyond the schemas: the error answers and file media types.

Every operation documents the real error body (hospital.errors.ErrorSchema) for the statuses it
can answer, derived from what the application does for any request to it:
- 400 (unreadable body, missing CSRF header), 413, 415 and 503 (busy) for any operation;
- 401 and 403 unless the operation is public; 404 for an address with a path parameter, or for
  a token, or for any write (it names other objects by id);
- 409 and 429 for writes; 422 for an operation taking any input.
A status an operation documents itself is kept as written.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import BasePlugin
from flask import Flask

from hospital.accounts.guards import policy_of

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


def file_response(description: str, *media_types: str) -> dict[str, Any]:
    """`@blp.doc(**file_response(...))` for an operation answering a file or an event stream."""

    def schema(media_type: str) -> dict[str, str]:
        if media_type.startswith("text/") or media_type == "image/svg+xml":
            return {"type": "string"}
        return {"type": "string", "format": "binary"}

    content = {media_type: {"schema": schema(media_type)} for media_type in media_types}
    return {"responses": {"200": {"description": description, "content": content}}}


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
