"""The FHIR R4 endpoints under /fhir/r4: thin handlers that parse, call the mapping, render.

Every answer is `application/fhir+json`; every refusal an OperationOutcome with a 4xx status
and human text in the request's language. Every transaction is audited.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import click
from flask import Blueprint, Response, g, request
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from hospital.accounts.guards import (
    access,
    current_account,
    public,
    require_signed_in,
    signed_in_account,
)
from hospital.accounts.sessions import open_session
from hospital.audit.service import record
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, NotFound, Unauthorized
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import Hospital
from scheduling.fhir import operations, publish, search
from scheduling.fhir import resources as fhir
from scheduling.fhir.auth import PATIENT_SCOPE, Principal, principal_for_token
from scheduling.fhir.capability import capability_statement
from scheduling.fhir.params import BadParameter, count_and_offset

bp = Blueprint("fhir", __name__, cli_group="fhir")

FHIR_JSON = "application/fhir+json"
TOKEN_POLICY = (
    "a FHIR bearer token: a patient's (from sign-in) or a system client's with SMART scopes"
)
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
}


def base_url() -> str:
    return request.host_url.rstrip("/") + "/fhir/r4"


def fhir_response(body: dict[str, Any], status: int = 200, **headers: str) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON, headers=headers
    )
    return response


def _outcome_response(status: int, code: str, message: Any) -> Response:
    severity = "error" if status < 500 else "fatal"
    issue = ISSUE_CODES.get(status, "processing" if status < 500 else "exception")
    g.fhir_error = code
    return fhir_response(fhir.outcome(severity, issue, code, str(message)), status)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    return _outcome_response(exc.status, exc.code, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 400
    message = _l("This request cannot be answered here (HTTP %(status)d).", status=status)
    return _outcome_response(status, (exc.name or "error").lower().replace(" ", "_"), message)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    from flask import current_app

    current_app.logger.exception("unhandled FHIR error on %s %s", request.method, request.path)
    return _outcome_response(
        500, ErrorCode.INTERNAL_ERROR, _l("Something went wrong on our side. It has been logged.")
    )


@bp.before_request
def _begin() -> None:
    g.fhir_principal = None
    g.fhir_error = ""
    g.fhir_object = ("", "", None)  # type, id, patient id


@bp.after_request
def _audit(response: Response) -> Response:
    """Audit the transaction (ITI AuditEvent content: who, what, which patient, outcome)."""
    principal: Principal | None = g.get("fhir_principal")
    if principal is None:
        account = current_account()
        if account is None or response.status_code < 400:
            return response  # public reads, and strangers with nothing to attribute
        actor = account
        client_id = None
    else:
        actor = principal.account
        client_id = principal.client.id if principal.client is not None else None
    status = response.status_code
    outcome = "success" if status < 400 else ("denied" if status in (401, 403, 404) else "failed")
    object_type, object_id, patient_id = g.get("fhir_object", ("", "", None))
    record(
        action=f"fhir.{(request.endpoint or 'unknown').rpartition('.')[2]}"[:64],
        outcome=outcome,
        actor=actor,
        object_type=object_type,
        object_id=str(object_id)[:64],
        patient_id=patient_id,
        detail={
            "client": client_id,
            "method": request.method,
            "path": request.path[:200],
            "query": request.query_string.decode(errors="replace")[:300],
            "status": status,
            "error": g.get("fhir_error", ""),
        },
    )
    return response


def with_principal(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve the bearer token to a principal before the handler runs (cookies are ignored)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise Unauthorized(
                _l("Send a valid bearer token (Authorization: Bearer …)."),
                code=ErrorCode.TOKEN_REQUIRED,
            )
        principal = principal_for_token(header[7:].strip(), now=utcnow())
        g.fhir_principal = principal
        g.hospital = db.session.get(Hospital, principal.hospital_id)
        return fn(principal, *args, **kwargs)

    return wrapper


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise BadParameter(
            _l("The body is not JSON. Send a FHIR resource as application/fhir+json."),
            code=ErrorCode.INVALID_JSON,
        )
    return body


# ---- conformance and sign-in ----------------------------------------------------------------


@bp.get("/metadata")
@public("the server's CapabilityStatement: what it supports, no data")
def metadata() -> Response:
    """The CapabilityStatement."""
    return fhir_response(capability_statement(base=base_url(), now=utcnow()))


@bp.post("/auth/token")
@require_signed_in
def patient_token() -> Response:
    """Trade the signed-in session for a bearer token (a new server-side session) for FHIR apps."""
    if not (request.is_json or request.headers.get("X-Requested-With")):
        raise BadParameter(
            _l("Send this request with the header X-Requested-With or a JSON body."),
            code=ErrorCode.CSRF_HEADER_MISSING,
        )
    account = signed_in_account()
    if account.is_staff:
        raise DomainError(
            _l("Staff accounts call the FHIR API through a system client token."),
            code=ErrorCode.STAFF_TOKEN_REFUSED,
        )
    token = open_session(account, now=utcnow())
    from flask import current_app

    record(
        action="fhir.token_issued", actor=account, object_type="account", object_id=str(account.id)
    )
    return fhir_response(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(current_app.config["SESSION_DAYS"]) * 86400,
            "scope": PATIENT_SCOPE,
        }
    )


# ---- SMART Scheduling Links -----------------------------------------------------------------


@bp.get("/$bulk-publish")
@public("SMART Scheduling Links manifest: released free times, no patient data")
def bulk_publish() -> Response:
    """The manifest of the Location, Schedule and Slot files."""
    hospital = current_hospital()
    published = publish.publication(hospital.id, now=utcnow())
    manifest = {
        "transactionTime": fhir.instant(published.modified_at),
        "request": f"{base_url()}/$bulk-publish",
        "output": [
            {"type": kind, "url": f"{base_url()}/$bulk-publish/{kind}.ndjson"}
            for kind in publish.KINDS
        ],
        "error": [],
    }
    response = Response(json.dumps(manifest), mimetype="application/json")
    return _cacheable(response, "-".join(published.etags.values()), published.modified_at)


@bp.get("/$bulk-publish/<kind>.ndjson")
@public("SMART Scheduling Links file: released free times, no patient data")
def bulk_file(kind: str) -> Response:
    """One NDJSON file of the publication."""
    if kind not in publish.KINDS:
        raise search.not_supported(kind)
    published = publish.publication(current_hospital().id, now=utcnow())
    response = Response(published.files[kind], mimetype="application/fhir+ndjson")
    return _cacheable(response, published.etags[kind], published.modified[kind])


def _cacheable(response: Response, etag: str, modified: Any) -> Response:
    response.set_etag(etag)
    response.last_modified = modified
    response.cache_control.public = True
    response.cache_control.max_age = 60
    response.make_conditional(request)  # answers 304 or a range in place
    return response


# ---- IHE ITI Scheduling operations ----------------------------------------------------------


@bp.route("/Appointment/$find", methods=["GET", "POST"])
@access(signed_in=True, token=TOKEN_POLICY)
@with_principal
def find(principal: Principal) -> Response:
    """ITI-115: potential appointments built from free places."""
    principal.require("Appointment", "r")
    if request.method == "POST":
        given = operations.parameters_of(_body())
    else:
        given = {k: request.args.getlist(k) for k in request.args}
    proposals, total, count, offset = operations.find(principal, given, now=utcnow())
    links = {}
    if offset + count < total:
        links["next"] = _find_page_url(given, offset + count, count)
    if offset > 0:
        links["previous"] = _find_page_url(given, max(0, offset - count), count)
    body = fhir.bundle_bytes(proposals, base=base_url(), total=total, links=links)
    return Response(body, mimetype=FHIR_JSON)


def _find_page_url(given: dict[str, list[Any]], offset: int, count: int) -> str:
    """A GET $find address for another page (a POSTed search's string values as query)."""
    pairs = [
        (name, operations.page_value(value))
        for name, values in given.items()
        if name not in ("_offset", "_count")
        for value in values
    ]
    pairs += [("_count", str(count)), ("_offset", str(offset))]
    return f"{base_url()}/Appointment/$find?{urlencode(pairs)}"


@bp.post("/Appointment/$hold")
@access(signed_in=True, token=TOKEN_POLICY)
@with_principal
def hold(principal: Principal) -> Response:
    """ITI-116: hold a place; the answer carries the hold's expiry."""
    principal.require("Appointment", "c")
    appointment = operations.hold(principal, operations.parameters_of(_body()), now=utcnow())
    return _appointment_answer(principal, appointment, None, status=201)


@bp.post("/Appointment/$book")
@access(signed_in=True, token=TOKEN_POLICY)
@with_principal
def book(principal: Principal) -> Response:
    """ITI-117: book a held or proposed appointment, or cancel one (status cancelled)."""
    principal.require("Appointment", "u")
    appointment, notice = operations.book(
        principal, operations.parameters_of(_body()), now=utcnow()
    )
    return _appointment_answer(principal, appointment, notice)


def _appointment_answer(
    principal: Principal, appointment: Any, notice: dict[str, Any] | None, *, status: int = 200
) -> Response:
    from scheduling.fhir import reads

    g.fhir_object = ("appointment", appointment.id, appointment.patient_id)
    resource = reads.appointment_resource(
        appointment, reads.catalogue(principal.hospital_id), now=utcnow()
    )
    entries = [resource] + ([notice] if notice else [])
    return fhir_response(fhir.bundle(entries, base=base_url(), total=1), status)


# ---- read and search ------------------------------------------------------------------------


@bp.get("/<resource_type>")
@access(signed_in=True, token=TOKEN_POLICY)
@with_principal
def search_type(principal: Principal, resource_type: str) -> Response:
    """Search one resource type, a page at a time (_count, _offset, next link)."""
    principal.require(resource_type, "s")
    count, offset = count_and_offset(request.args)
    g.fhir_object = (resource_type, "", None)
    includes = request.args.getlist("_include")
    search.check_includes(principal, resource_type, includes)
    now = utcnow()
    total, page = search.search(
        principal, resource_type, _search_args(), now=now, count=count, offset=offset
    )
    extra = search.included(principal, includes, page, now=now) if includes else []
    links = {"self": _page_url(offset, count)}
    if offset + count < total:
        links["next"] = _page_url(offset + count, count)
    if offset > 0:
        links["previous"] = _page_url(max(0, offset - count), count)
    return fhir_response(
        fhir.bundle(page, base=base_url(), total=total, links=links, included=extra)
    )


@bp.get("/<resource_type>/<resource_id>")
@access(signed_in=True, token=TOKEN_POLICY)
@with_principal
def read(principal: Principal, resource_type: str, resource_id: str) -> Response:
    """Read one resource by id."""
    principal.require(resource_type, "r")
    g.fhir_object = (resource_type, resource_id, None)
    resource = search.read(principal, resource_type, resource_id, now=utcnow())
    if resource_type == "Patient":
        g.fhir_object = (resource_type, resource_id, int(resource["id"]))
    return fhir_response(resource)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@public("answers an OperationOutcome for addresses this server does not have")
def unsupported(rest: str) -> Response:
    """Anything else under the base: not supported."""
    raise NotFound(_l("This server has nothing at this address."), code=ErrorCode.NOT_FOUND)


def _search_args() -> Any:
    args = request.args.copy()
    for control in ("_count", "_offset", "_format", "_pretty", "_include"):
        args.pop(control, None)
    return args


def _page_url(offset: int, count: int) -> str:
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in ("_offset", "_count")]
    pairs += [("_count", str(count)), ("_offset", str(offset))]
    return f"{request.base_url}?{urlencode(pairs)}"


# ---- operator command -----------------------------------------------------------------------


@bp.cli.command("create-client")
@click.option("--hospital", "hospital_code", required=True, help="The hospital's code.")
@click.option("--name", required=True, help="Who the client is, e.g. the regional platform.")
@click.option(
    "--scope",
    "scopes",
    required=True,
    help='SMART v2 system scopes, space-separated, e.g. "system/Slot.rs system/Appointment.cru".',
)
@with_appcontext
def create_client_command(hospital_code: str, name: str, scopes: str) -> None:
    """Issue a bearer token for a FHIR system client (shown once)."""

    from hospital.unit_of_work import unit_of_work
    from scheduling.fhir.auth import create_client

    try:
        with unit_of_work():
            hospital = _hospital_by_code(hospital_code)
            client, token = create_client(hospital, name=name, scopes=scopes, now=utcnow())
            client_id = client.id
    except DomainError as error:
        with force_locale("en"):
            raise click.ClickException(f"{error.message} ({error.code})") from None
    click.echo(f"Created FHIR client {name} (id {client_id}). Its bearer token, shown once:")
    click.echo(token)


def _hospital_by_code(code: str) -> Hospital:
    import sqlalchemy as sa

    hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == code))
    if hospital is None:
        raise click.ClickException(f"There is no hospital with the code {code!r}.")
    return hospital


@bp.cli.command("list-clients")
@click.option("--hospital", "hospital_code", required=True, help="The hospital's code.")
@with_appcontext
def list_clients_command(hospital_code: str) -> None:
    """List the hospital's FHIR system clients: id, state, name, scopes, last seen."""
    from scheduling.fhir.auth import clients

    for client in clients(_hospital_by_code(hospital_code).id):
        state = "active " if client.is_active else "revoked"
        seen = client.last_seen_at.isoformat(timespec="seconds") if client.last_seen_at else "never"
        click.echo(f"{client.id}\t{state}\t{client.name}\t{client.scopes}\tlast seen {seen}")


@bp.cli.command("revoke-client")
@click.option("--hospital", "hospital_code", required=True, help="The hospital's code.")
@click.option("--id", "client_id", required=True, type=int, help="The client's id (list-clients).")
@with_appcontext
def revoke_client_command(hospital_code: str, client_id: int) -> None:
    """Revoke a FHIR system client's token at once (audited)."""
    from hospital.unit_of_work import unit_of_work
    from scheduling.fhir.auth import revoke_client

    try:
        with unit_of_work():
            client = revoke_client(
                _hospital_by_code(hospital_code), client_id, actor=None, now=utcnow()
            )
            name = client.name
    except DomainError as error:
        with force_locale("en"):
            raise click.ClickException(f"{error.message} ({error.code})") from None
    click.echo(f"Revoked FHIR client {name} (id {client_id}); its token is refused from now on.")
