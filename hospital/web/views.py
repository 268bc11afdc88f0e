"""Shell pages: home, health checks, language and elder-mode switches."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.db import db
from hospital.web.i18n import ELDER_COOKIE, LANGUAGE_COOKIE, LANGUAGES

bp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)

ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
def home() -> str:
    return render_template("home.html")


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask import current_app

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
    target = (
        request.form.get("next")
        or request.args.get("next")
        or request.referrer
        or url_for("web.home")
    )
    # Only same-site paths: an open redirect would let a phishing link borrow our address.
    if not target.startswith("/") or target.startswith("//"):
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        if parts.netloc and parts.netloc != request.host:
            return url_for("web.home")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    return target or url_for("web.home")


@bp.route("/language/<lang>", methods=["GET", "POST"])
def set_language(lang: str) -> WerkzeugResponse:
    response = redirect(_back())
    if lang in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, max_age=ONE_YEAR, samesite="Lax", httponly=True)
    return response


@bp.route("/elder-mode/<state>", methods=["GET", "POST"])
def set_elder_mode(state: str) -> WerkzeugResponse:
    response = redirect(_back())
    if state in ("on", "off"):
        response.set_cookie(
            ELDER_COOKIE,
            "1" if state == "on" else "0",
            max_age=ONE_YEAR,
            samesite="Lax",
            httponly=True,
        )
    return response
