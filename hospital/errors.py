"""Errors with a stable machine code and a sentence a person can act on."""

from __future__ import annotations

import math
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from hospital.error_codes import ErrorCode


class DomainError(Exception):
    """A refusal the caller can fix; rendered as JSON for the API and as a page otherwise."""

    status = 400
    code: ErrorCode = ErrorCode.BAD_REQUEST

    def __init__(self, message: Any, *, code: ErrorCode | None = None, details: Any = None) -> None:
        super().__init__(message)  # a lazy message is translated once, when the answer is written
        self.message = message
        if code:
            self.code = code
        self.details = details

    def __init_subclass__(
        cls, *, status: int | None = None, code: ErrorCode | None = None, **kwargs: Any
    ) -> None:
        """Take a subclass's status and code from its class keywords (see Conflict below)."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    @property
    def is_refusal(self) -> bool:
        """True when the caller may not reach the object (not signed in, not allowed, not found).

        A page that turns a fixable error into a flash message and a redirect must let these
        through, so a stranger's request is answered as the refusal it is.
        """
        return self.status in (401, 403, 404)


# The refusals every package raises (a package's own error subclasses one of these).
class InvalidInput(DomainError, status=422, code=ErrorCode.INVALID_INPUT): ...


class NotFound(DomainError, status=404, code=ErrorCode.NOT_FOUND): ...


class Forbidden(DomainError, status=403, code=ErrorCode.FORBIDDEN): ...


class Unauthorized(DomainError, status=401, code=ErrorCode.SIGN_IN_REQUIRED): ...


class Conflict(DomainError, status=409, code=ErrorCode.CONFLICT): ...


class TooManyRequests(DomainError, status=429, code=ErrorCode.TOO_MANY_REQUESTS): ...


# Human sentences for the HTTP errors raised by Flask, werkzeug and webargs themselves.
_HTTP_MESSAGES = {
    400: (ErrorCode.BAD_REQUEST, _l("The request could not be read. Send valid JSON.")),
    401: (ErrorCode.SIGN_IN_REQUIRED, _l("Please sign in first.")),
    403: (ErrorCode.FORBIDDEN, _l("You are not allowed to do this.")),
    404: (ErrorCode.NOT_FOUND, _l("Nothing was found at this address.")),
    405: (ErrorCode.METHOD_NOT_ALLOWED, _l("This address does not accept that method.")),
    409: (ErrorCode.CONFLICT, _l("This conflicts with the current state. Reload and try again.")),
    413: (ErrorCode.BODY_TOO_LARGE, _l("The request is too large. Send at most 1 MB.")),
    415: (
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        _l("Send the body as JSON (Content-Type: application/json)."),
    ),
    422: (ErrorCode.INVALID_INPUT, _l("Some fields are not valid. Correct them and try again.")),
    429: (ErrorCode.TOO_MANY_REQUESTS, _l("Too many attempts. Wait a moment and try again.")),
}


class ErrorSchema(Schema):
    """The JSON body of every refusal and error the API answers (see error_response)."""

    code = fields.Str(
        required=True,
        metadata={"description": "Stable machine code, e.g. `invalid_input`, `slot_taken`."},
    )
    message = fields.Str(
        required=True, metadata={"description": "A sentence a person can act on, translated."}
    )
    errors = fields.Raw(
        metadata={
            "description": "Optional details: for `invalid_input`, the problems by field name."
        }
    )


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: ErrorCode, message: Any, details: Any = None) -> Response:
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": str(message)}
        if details:
            body["errors"] = details
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", status=status, code=code, message=str(message)),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _webargs_details(exc: HTTPException) -> Any:
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if isinstance(messages, dict) and len(messages) == 1:
        # webargs nests by location ("json", "query"); a single location is the common case.
        (messages,) = messages.values()
    return messages


def _describe(details: Any) -> str:
    """Turn marshmallow's nested messages into one sentence naming each field."""
    if not isinstance(details, dict):
        return ""
    parts = []
    for field, problems in details.items():
        text = problems
        if isinstance(problems, list):
            text = " ".join(str(p) for p in problems)
        elif isinstance(problems, dict):
            text = _describe(problems)
        parts.append(f"{field}: {text}")
    return "; ".join(parts)


DATABASE_RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (restarting, failing over, network): worth a retry.

    Not SQLite's "database is locked" or a constraint: only a lost or refused PostgreSQL
    connection.
    """
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc.orig, psycopg.OperationalError | psycopg.InterfaceError) and not (
        isinstance(exc.orig, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled)
    )


_DATABASE_UNAVAILABLE = _l("The system is briefly unavailable. Please try again in a few seconds.")


def _database_unavailable_response() -> Response:
    """A 503 built without the database: no signed-in language, no page shell, both languages."""
    from flask_babel import force_locale

    with force_locale("zh"):
        zh = str(_DATABASE_UNAVAILABLE)
    with force_locale("en"):
        en = str(_DATABASE_UNAVAILABLE)
    message = f"{zh} {en}"
    if wants_json():
        response = jsonify({"code": ErrorCode.DATABASE_UNAVAILABLE, "message": message})
    else:
        response = Response(message, mimetype="text/plain")
    response.status_code = 503
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def _carries_nul(req: Any) -> bool:
    """A NUL character anywhere in the query, a form or a JSON body (PostgreSQL cannot store,
    search or compare text holding one; SQLite would, so the two would answer differently)."""
    if any("\x00" in value for _key, values in req.args.lists() for value in values):
        return True
    if req.mimetype == "application/x-www-form-urlencoded":
        # The raw body, cached: parsing the form here would consume what a signed provider
        # notification is verified against. (Multipart files may hold NULs: they are bytes.)
        body = req.get_data(cache=True)
        return b"%00" in body or b"\x00" in body
    if req.is_json:
        body = req.get_data(cache=True)
        return b"\\u0000" in body or b"\x00" in body
    return False


def refuse_nul_characters() -> None:
    """Called as each request begins: raised, not answered here, so each blueprint's handler
    answers in its own form (the FHIR facade as an OperationOutcome)."""
    if _carries_nul(request):
        raise DomainError(
            _l("Text cannot contain the NUL character (\\0). Remove it and send again."),
            code=ErrorCode.BAD_REQUEST,
        )


def register_error_handlers(app: Flask) -> None:

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        wait = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
        if exc.status in (429, 503) and isinstance(wait, int | float) and wait > 0:
            # Clients and proxies read the wait from the standard header, not from our body.
            response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        original = getattr(exc, "original_exception", None)
        if status == 500 and original is not None and database_unavailable(original):
            # Raised while committing in after_request: Flask wraps it in a 500.
            return _database_unavailable_response()
        code, message = _HTTP_MESSAGES.get(status, (ErrorCode.ERROR, exc.description or exc.name))
        details = _webargs_details(exc)
        if status == 422 and details:
            message = f"{message} {_describe(details)}"
        elif status == 400 and details:
            message = f"{message} {_describe(details) or details}"
        response = error_response(status, code, message, details)
        if status == 405:
            # RFC 9110: a 405 names the methods the address does accept.
            for name, value in exc.get_headers():
                if name.lower() == "allow":
                    response.headers["Allow"] = value
        return response

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    def _database_error(exc: sa_exc.DBAPIError) -> Response:
        if database_unavailable(exc):
            return _database_unavailable_response()
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500,
            ErrorCode.INTERNAL_ERROR,
            _l("Something went wrong on our side. It has been logged; please try again."),
        )
