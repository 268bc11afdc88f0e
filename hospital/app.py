"""The composition root: builds the app, registers every blueprint, connects every package.

Nothing imports this module but wsgi.py, the CLI and the tests.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import deque
from typing import Any

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l

from hospital import metrics
from hospital.accounts.guards import current_account
from hospital.audit.service import REFUSALS, record_unrecorded_refusal, replay_after_rollback
from hospital.config import instance_folder, load_config
from hospital.db import db, keep_prepared_statements, write_intent
from hospital.error_codes import ErrorCode
from hospital.errors import (
    DomainError,
    ErrorSchema,
    refuse_nul_characters,
    register_error_handlers,
)
from hospital.extensions import api, babel, csrf, limiter, login_manager, migrate
from hospital.scheduler import leadership_figures
from hospital.web import security_headers
from hospital.web.id_fields import IdConverter

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def create_app(config_override: dict[str, Any] | None = None) -> Flask:
    app = Flask("hospital", instance_path=instance_folder(config_override))
    # Before any route is added: every `<int:…>` in the URL map is an id, bounded to MAX_ID.
    app.url_map.converters["int"] = IdConverter
    load_config(app, config_override)
    metrics.configure_logging(app.config["LOG_LEVEL"], str(app.config["LOG_FORMAT"]))
    from hospital.web.catalogues import catalogue_dirs

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in catalogue_dirs())

    _import_models()
    db.init_app(app)
    with app.app_context():
        keep_prepared_statements(db.engine)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(PACKAGE_DIR, "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    from hospital.web.i18n import select_locale, select_timezone

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    # The document describes the error body the API really answers (code is a string).
    api.ERROR_SCHEMA = ErrorSchema
    from hospital.web.api_docs import ErrorResponses, SchemaConstraints, security_schemes

    api.init_app(app, spec_kwargs={"extra_plugins": [ErrorResponses(app), SchemaConstraints()]})
    for name, scheme in security_schemes(app).items():
        api.spec.components.security_scheme(name, scheme)
    register_error_handlers(app)
    _register_unit_of_work(app)
    metrics.init_app(app)
    # Scrape-time figures of the kernel (queueing adds its own in its wiring).
    metrics.add_sampler(app, leadership_figures)
    _register_blueprints(app)
    security_headers.register(app)
    _connect_packages(app)

    hops = int(app.config["PROXY_HOPS"] or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

    from hospital.cli import register_commands

    register_commands(app)
    return app


def _import_models() -> None:
    """Every table must be known to the metadata before migrations or create_all run."""
    import consult.models  # noqa: F401
    import hospital.accounts.models  # noqa: F401
    import hospital.audit.models  # noqa: F401
    import hospital.billing.models  # noqa: F401
    import hospital.cards.models  # noqa: F401
    import hospital.guide.models  # noqa: F401
    import hospital.idempotency  # noqa: F401
    import hospital.notifications.models  # noqa: F401
    import hospital.organisation.models  # noqa: F401
    import hospital.patients.models  # noqa: F401
    import hospital.visits.models  # noqa: F401
    import kiosk.models  # noqa: F401
    import queueing.models  # noqa: F401
    import reports.models  # noqa: F401
    import scheduling.models  # noqa: F401


def _register_unit_of_work(app: Flask) -> None:
    @app.before_request
    def _begin() -> None:
        _take_request_slot(app)
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
        # Reads write too (audit of staff reads, "viewed" marks, session touches). On SQLite a
        # deferred transaction that upgrades to a write fails at once with "database is locked"
        # when another writer got in first, so every request takes the write lock up front;
        # event streams read with write_intent off (queueing/live.py).
        g.write_intent_token = write_intent.set(request.method not in ("HEAD", "OPTIONS"))
        refuse_nul_characters()  # PostgreSQL cannot hold U+0000: a 400 on both databases
        if (
            request.path.startswith("/api/")
            and request.method in MUTATING
            and request.routing_exception is None  # a 404 or 405 says so, before anything else
        ):
            _require_json_for_cookie_auth()
            if request.method == "PATCH" and not request.get_data(cache=True):
                raise _BodyRequired()

    @app.after_request
    def _finish(response: Any) -> Any:
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        replay_after_rollback()  # denials a handler's own rollback took away are kept too
        if response.status_code in REFUSALS:
            record_unrecorded_refusal(
                response.status_code, actor=current_account(), device=g.get("device")
            )
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _teardown(exc: BaseException | None) -> None:
        slot = g.pop("request_slot", None)
        if slot is not None:
            slot.release()  # before a streamed body is sent: streams never hold a slot
        if exc is not None:
            db.session.rollback()
        token = g.pop("write_intent_token", None)
        if token is not None:
            write_intent.reset(token)


class RequestSlots:
    """A counting semaphore that serves waiting requests in arrival order.

    threading.Semaphore lets a newly arrived thread take a freed slot before the woken waiter
    runs, so under a steady burst some requests wait many times longer than the rest. Here a
    freed slot is handed straight to the longest waiter.
    """

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._free = limit
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        return True  # a slot was handed over just as the wait ran out: it is ours

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()  # the slot passes on without being freed
            else:
                self._free += 1


_request_slots: dict[int, RequestSlots] = {}
_request_slots_lock = threading.Lock()


def _take_request_slot(app: Flask) -> None:
    """Let at most REQUEST_SLOTS requests of this process run at once; the rest wait in line."""
    limit = int(app.config["REQUEST_SLOTS"] or 0)
    if limit <= 0:
        return
    with _request_slots_lock:
        slots = _request_slots.get(os.getpid())
        if slots is None:
            slots = _request_slots[os.getpid()] = RequestSlots(limit)
    if not slots.acquire(timeout=float(app.config["REQUEST_SLOT_WAIT_SECONDS"])):
        raise ServerBusy()
    g.request_slot = slots


class ServerBusy(DomainError):
    status = 503
    code = ErrorCode.SERVER_BUSY

    def __init__(self) -> None:
        super().__init__(_l("The system is very busy right now. Please try again in a moment."))


def _require_json_for_cookie_auth() -> None:
    """CSRF defence for the cookie-authenticated JSON API.

    A cross-site HTML form cannot send `Content-Type: application/json` or a custom header
    without a CORS preflight, which this server never grants.
    """
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if request.is_json or request.headers.get("X-Requested-With"):
        return
    if not request.content_length:
        raise DomainError(
            "Send this request with the header X-Requested-With or a JSON body.",
            code=ErrorCode.CSRF_HEADER_MISSING,
        )
    raise _UnsupportedMedia()


class _UnsupportedMedia(DomainError):
    status = 415
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE

    def __init__(self) -> None:
        super().__init__("Send the body as JSON (Content-Type: application/json).")


class _BodyRequired(DomainError):
    """A PATCH names what to change; one without a body is a client's mistake, not a no-op."""

    status = 400
    code = ErrorCode.BODY_REQUIRED

    def __init__(self) -> None:
        super().__init__(_l("Send the fields to change as a JSON object."))


def _register_blueprints(app: Flask) -> None:
    from consult import api as consult_api
    from consult import views as consult_views
    from hospital.accounts import api as accounts_api
    from hospital.accounts import views as accounts_views
    from hospital.audit import api as audit_api
    from hospital.audit import views as audit_views
    from hospital.billing import api as billing_api
    from hospital.billing import insurance_views
    from hospital.billing import views as billing_views
    from hospital.cards import views as cards_views
    from hospital.guide import api as guide_api
    from hospital.guide import views as guide_views
    from hospital.organisation import api as organisation_api
    from hospital.patients import api as patients_api
    from hospital.patients import views as patients_views
    from hospital.web import views as web_views
    from journey import api as journey_api
    from journey import views as journey_views
    from kiosk import api as kiosk_api
    from kiosk import report_shelf
    from kiosk import views as kiosk_views
    from kiosk.services import check_in
    from queueing import api as queueing_api
    from queueing import device_check_in
    from queueing import views as queueing_views
    from queueing.services import issuing as queue_issuing
    from reports import api as reports_api
    from reports import views as reports_views
    from reports.services import download, reading
    from scheduling import api as scheduling_api
    from scheduling import queue_port
    from scheduling import views as scheduling_views
    from scheduling.fhir import api as fhir_api

    for blp, prefix in (
        (accounts_api.blp, "/api/v1/auth"),
        (patients_api.blp, "/api/v1/family"),
        (organisation_api.blp, "/api/v1/organisation"),
        (scheduling_api.blp, "/api/v1/scheduling"),
        (queueing_api.blp, "/api/v1/queueing"),
        (billing_api.blp, "/api/v1/billing"),
        (reports_api.blp, "/api/v1/reports"),
        (kiosk_api.blp, "/api/v1/kiosk"),
        (audit_api.blp, "/api/v1/audit"),
        (journey_api.blp, "/api/v1/journey"),
        (guide_api.blp, "/api/v1/guide"),
        (consult_api.blp, "/api/v1/consult"),
    ):
        csrf.exempt(blp)  # the JSON API has its own CSRF defence (_require_json_for_cookie_auth)
        api.register_blueprint(blp, url_prefix=prefix)
    for bp in (
        web_views.bp,
        accounts_views.bp,
        patients_views.bp,
        scheduling_views.bp,
        queueing_views.bp,
        billing_views.bp,
        kiosk_views.bp,
        audit_views.bp,
        journey_views.bp,
        guide_views.bp,
        cards_views.bp,
        insurance_views.bp,
        consult_views.bp,
    ):
        app.register_blueprint(bp)
    app.register_blueprint(reports_views.bp, url_prefix="/reports")
    app.register_blueprint(csrf.exempt(metrics.bp))
    app.register_blueprint(csrf.exempt(fhir_api.bp), url_prefix="/fhir/r4")  # bearer tokens only
    # The kiosk may not import reports; the composition root hands it reports' public functions.
    report_shelf.provide(list_for=reading.reports_for, download=download.download)
    # Queueing may not import the kiosk; a device checks in there only through the kiosk's
    # proof-checked, rate-limited and audited check-in.
    device_check_in.provide(check_in.check_in_with_code)
    # Scheduling may not import queueing; the day list's check-in issues the queue number
    # through queueing's staff check-in, the same call the kiosk makes.
    queue_port.provide(
        staff_check_in=queue_issuing.staff_check_in, arrival_endpoint="queueing_pages.arrive_start"
    )


def _connect_packages(app: Flask) -> None:
    """Each package connects its signal receivers, message templates and jobs; none on import."""
    from consult import wiring as consult_wiring
    from hospital.accounts import wiring as accounts_wiring
    from hospital.billing import wiring as billing_wiring
    from hospital.cards import wiring as cards_wiring
    from hospital.guide import wiring as guide_wiring
    from hospital.notifications import wiring as notifications_wiring
    from hospital.patients import wiring as patients_wiring
    from hospital.visits import wiring as visits_wiring
    from journey import wiring as journey_wiring
    from kiosk import wiring as kiosk_wiring
    from queueing import wiring as queueing_wiring
    from reports import wiring as reports_wiring
    from scheduling import wiring as scheduling_wiring

    for package in (
        accounts_wiring,
        patients_wiring,
        guide_wiring,
        cards_wiring,
        notifications_wiring,
        visits_wiring,
        scheduling_wiring,
        queueing_wiring,
        reports_wiring,
        kiosk_wiring,
        journey_wiring,
        consult_wiring,
    ):
        package.connect(app)
    # Billing names no other package's pages: the composition root says where a paid order of
    # each kind leads the patient on.
    billing_wiring.connect(
        app,
        after_payment={
            "appointment": "scheduling_pages.my_appointments",
            # A paid visit order or walk-in fee gives a queue number: the patient's numbers.
            "visit-order": "queueing_pages.my_tickets",
            "walk-in": "queueing_pages.my_tickets",
            # A paid consultation fee sends the question: back to its thread.
            "consultation": "consult_pages.my_consultations",
        },
    )
