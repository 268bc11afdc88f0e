"""Shell pages: home, health checks, language and elder-mode switches, and what every page shows."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale, refresh
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import current_account, public, require_roles
from hospital.accounts.models import STAFF_ROLES, Language
from hospital.accounts.services.preferences import update_preferences
from hospital.config import describe_database
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound, error_response
from hospital.money import format_fen
from hospital.organisation.lookup import current_hospital
from hospital.patients.identity import mask_phone
from hospital.web.i18n import (
    ELDER_COOKIE,
    HTML_LANG,
    LANGUAGE_COOKIE,
    LANGUAGES,
    SPEECH_LANG,
    elder_mode_on,
)
from hospital.web.navigation import next_path, same_site_path, sign_in_page_required
from hospital.web.staff import staff_links, staff_summaries
from hospital.web.tiles import home_tiles
from hospital.zones import DEFAULT_TIMEZONE

log = logging.getLogger(__name__)

# Not /static: the application's own (empty) static route would shadow it.
bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
)

ONE_YEAR = 365 * 24 * 3600
DEFAULT_TIME_FORMAT = "%Y-%m-%d %H:%M"


# ---- what every template sees ---------------------------------------------------------------


def page_hospital() -> Any:
    """The current hospital, or None when none is set up (or the database cannot say)."""
    try:
        return current_hospital()
    except NotFound:
        return None
    except SQLAlchemyError:
        # An error page must still render when the database is the problem.
        log.warning("could not look up the hospital for a page", exc_info=True)
        return None


def page_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "zh"


def localized(obj: Any, field: str) -> str:
    """obj.<field>_zh or obj.<field>_en by page language, falling back to the other one."""
    if obj is None:
        return ""
    first, second = ("zh", "en") if page_language() == "zh" else ("en", "zh")
    return getattr(obj, f"{field}_{first}", "") or getattr(obj, f"{field}_{second}", "") or ""


def local_time(dt: datetime | None, fmt: str = DEFAULT_TIME_FORMAT) -> str:
    """Format an aware UTC datetime in the hospital's time zone."""
    if dt is None:
        return ""
    hospital = g.get("hospital") or page_hospital()
    zone = ZoneInfo(hospital.timezone if hospital is not None else DEFAULT_TIMEZONE)
    return dt.astimezone(zone).strftime(fmt)


@bp.app_context_processor
def page_context() -> dict[str, Any]:
    lang = page_language()
    context: dict[str, Any] = {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "speech_lang": SPEECH_LANG[lang],
        "localized": localized,
    }
    if not has_request_context():
        # Mail, SMS and PDF templates rendered by jobs have no visitor.
        hospital = g.get("hospital")
        return {
            **context,
            "hospital": hospital,
            "hospital_name": localized(hospital, "name") or _("Hospital"),
            "account": None,
            "elder_mode": False,
        }
    hospital = page_hospital()
    account = current_account()
    return {
        **context,
        "hospital": hospital,
        "hospital_name": localized(hospital, "name") or _("Hospital"),
        "account": account,
        "elder_mode": elder_mode_on(),
        "here": _here(),
        "staff_links": staff_links(account),
    }


@bp.app_template_filter("local_time")
def local_time_filter(dt: datetime | None, fmt: str = DEFAULT_TIME_FORMAT) -> str:
    return local_time(dt, fmt)


bp.add_app_template_global(format_fen, "money")


@bp.app_template_filter("mask_phone")
def mask_phone_filter(phone: str | None) -> str:
    return mask_phone(phone) if phone else ""


def _here() -> str:
    """This page's address without ?lang=, for the switches to come back to.

    A page shown in answer to a form post may have no GET route (e.g. a refused form): then
    the page the form was on, else home.
    """
    if request.method != "GET":
        try:
            current_app.url_map.bind(request.host).match(request.path, method="GET")
        except HTTPException:
            return _same_site_referrer() or url_for("web.home")
    query = [(k, v) for k, v in parse_qsl(request.query_string.decode("utf-8", "replace"))]
    query = [(k, v) for k, v in query if k != "lang"]
    return request.path + (f"?{urlencode(query)}" if query else "")


def _same_site_referrer() -> str | None:
    if not request.referrer:
        return None
    parts = urlsplit(request.referrer)
    if parts.netloc != request.host:
        return None
    return same_site_path(parts.path + (f"?{parts.query}" if parts.query else ""))


@bp.before_app_request
def _choose_language_afresh() -> None:
    # flask-babel caches the locale on the app context, which outlives one request when a test
    # (or a job) pushed it: each request chooses its language again.
    refresh()


@bp.after_app_request
def _remember_language_from_address(response: WerkzeugResponse) -> WerkzeugResponse:
    # A link with ?lang=en keeps the page in English after the next click or form post too.
    lang = request.args.get("lang")
    if lang in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != lang:
        _remember(response, LANGUAGE_COOKIE, lang)
    return response


@bp.app_errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> Response:
    return error_response(
        400,
        ErrorCode.CSRF_FAILED,
        _l("This form is out of date. Go back, reload the page and try again."),
    )


# ---- pages ----------------------------------------------------------------------------------


@bp.get("/")
@public("the home page")
def home() -> str:
    account = current_account()
    if account is not None and account.is_staff:
        # Staff land on their work, by role; their own family pages stay in the menu below.
        from hospital.audit.record_access import ROLE_LABELS

        roles = [ROLE_LABELS[r.value] for r in sorted(account.roles) if r.value in ROLE_LABELS]
        links = staff_links(account)
        return render_template(
            "staff_home.html",
            links=links,
            role_labels=roles,
            summaries=staff_summaries(account, links),
        )
    return render_template(
        "home.html",
        tiles=home_tiles(signed_in=account is not None),
        todays_visits=_todays_visits(account),
    )


def _todays_visits(account: Any) -> list[tuple[str, str]]:
    """(visit code, masked name) of today's visits of the patients the account acts for."""
    if account is None or "journey_pages.visit_page" not in current_app.view_functions:
        return []
    from hospital.patients.access import Permission, patients_acting_for
    from hospital.patients.identity import mask_name
    from hospital.visits.services import hospital_day, visits_of_patients_on

    patients = {p.id: p for p in patients_acting_for(account, Permission.VIEW)}
    today = hospital_day(account.hospital_id, utcnow())
    return [
        (v.code, mask_name(patients[v.patient_id].name))
        for v in visits_of_patients_on(account.hospital_id, list(patients), today)
    ]


@bp.get("/healthz")
@public("liveness check; no data")
def healthz() -> Response:
    # Which database this process opened (no credentials): a server started with the wrong
    # settings is seen at once, not by "no such table" errors later.
    database = describe_database(current_app.config["SQLALCHEMY_DATABASE_URI"])
    return jsonify(status="ok", database=database)


@bp.get("/readyz")
@public("readiness check; no data")
def readyz() -> tuple[Response, int]:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return jsonify(status="unavailable", database="unreachable", error=type(exc).__name__), 503
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    heads = set(script.get_heads())
    if current != heads:
        return jsonify(
            status="unavailable",
            database="ok",
            migrations="behind",
            current=sorted(current),
            head=sorted(heads),
        ), 503
    return jsonify(status="ok", database="ok", migrations="head"), 200


def _back() -> str:
    """Where to return after a switch: `next`, else the referring page on this site, else home."""
    target = next_path(_same_site_referrer() or url_for("web.home"))
    # A ?lang= left in the address would override the choice just made.
    parts = urlsplit(target)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "lang"]
    return parts.path + (f"?{urlencode(query)}" if query else "")


def _remember(response: WerkzeugResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=ONE_YEAR,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


def _save_preferences(**changes: Any) -> None:
    """Keep the choice on the signed-in account too, so it follows the person to other devices."""
    account = current_account()
    if account is not None:
        update_preferences(account=account, **changes)


@bp.route("/language/<lang>", methods=["GET", "POST"])
@public("a display preference (saved to the caller's own account)")
def set_language(lang: str) -> WerkzeugResponse:
    if lang not in LANGUAGES:
        raise NotFound(_l("This language is not offered."), code=ErrorCode.UNKNOWN_LANGUAGE)
    response = redirect(_back())
    _remember(response, LANGUAGE_COOKIE, lang)
    # Only a form post changes the account: a link or an image cannot do it for another site.
    if request.method == "POST":
        _save_preferences(language=Language(lang))
    return response


@bp.route("/elder-mode/<state>", methods=["GET", "POST"])
@public("a display preference (saved to the caller's own account)")
def set_elder_mode(state: str) -> WerkzeugResponse:
    if state not in ("on", "off"):
        raise NotFound(
            _l("Elder mode can only be switched on or off."), code=ErrorCode.UNKNOWN_STATE
        )
    response = redirect(_back())
    _remember(response, ELDER_COOKIE, "1" if state == "on" else "0")
    if request.method == "POST":
        _save_preferences(elder_mode=state == "on")
    return response


@bp.get("/styleguide")
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def styleguide() -> str:
    """Every component of the design system, in Chinese, in English and in elder mode."""
    samples = []
    for key, language, elder, title in (
        ("zh", "zh", False, _l("Chinese")),
        ("en", "en", False, _l("English")),
        ("elder", page_language(), True, _l("Elder mode")),
    ):
        with force_locale(language):
            html = render_template("styleguide_components.html", p=f"sg-{key}")
        samples.append((key, HTML_LANG[language], elder, title, Markup(html)))
    return render_template("styleguide.html", samples=samples)
