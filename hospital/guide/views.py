"""Pages of the guide: ask in plain words, find the way, and the admin's lexicon and map editors."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import public, require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.guide.floor_svg import floor_svg
from hospital.guide.presenting import answer_view
from hospital.guide.schemas import KEY, EntryArgs, MapArgs
from hospital.guide.services import lexicon, maps
from hospital.organisation.lookup import current_hospital
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from hospital.web.views import page_language

bp = Blueprint("guide_pages", __name__, template_folder="templates")
Page = str | tuple[str, int] | WerkzeugResponse

add_home_tile(
    Tile(
        "guide_pages.ask",
        _l("Where should I go?"),
        _l("Say what is wrong in your own words; we suggest the department or service"),
        order=5,
    )
)
add_home_tile(
    Tile(
        "guide_pages.lexicon_admin",
        _l("Triage lexicon"),
        _l("Words patients use, and where they lead"),
        order=95,
        staff_only=True,
    )
)
add_home_tile(
    Tile(
        "guide_pages.map_admin",
        _l("Floor maps"),
        _l("Corridors, lifts, stairs and rooms"),
        order=96,
        staff_only=True,
    )
)


def _flag(name: str) -> bool:
    return request.args.get(name, "") in ("1", "on", "true", "yes")


@bp.get("/guide/ask")
@public("advice on where to go, from a phrase; reads no one's data")
def ask() -> Page:
    query = request.args.get("q", "").strip()[:200]
    found = answer_view(lexicon.answer(current_hospital().id, query)) if query else None
    return render_template("guide/ask.html", query=query, triage=found)


@bp.get("/guide/route")
@public("directions between public places of the hospital")
def route_page() -> Page:
    to = request.args.get("to_point", "")[:32]
    start = request.args.get("from_point", "")[:32] or None
    return render_template(
        "guide/route.html",
        to_point=to,
        from_point=start,
        accessible=_flag("accessible"),
        hospital_id=current_hospital().id,
    )


@bp.get("/guide/route/panel")
@public("directions between public places of the hospital")
def route_fragment() -> Page:
    """The route panel alone (no page around it), for pages that fetch and embed it."""
    to = request.args.get("to_point", "")[:32]
    panel = route_panel(
        current_hospital().id,
        to,
        request.args.get("from_point", "")[:32] or None,
        _flag("accessible"),
        page_language(),
        show_map=not _flag("no_map"),
    )
    if not panel:
        return render_template("guide/_no_route.html"), 404
    return str(panel)


# ---- the admin's editors -----------------------------------------------------------------------


def _lexicon_page(*, error: Any = None, status: int = 200, editing: str = "") -> Page:
    account = signed_in_account()
    return (
        render_template(
            "guide/lexicon_admin.html",
            entries=lexicon.entries(account.hospital_id),
            targets=lexicon.targets(),
            error=error,
            editing=editing,
            try_query=request.args.get("try", "")[:200],
            tried=answer_view(lexicon.answer(account.hospital_id, request.args["try"][:200]))
            if request.args.get("try")
            else None,
        ),
        status,
    )


@bp.get("/staff/guide/lexicon")
@sign_in_page_required
@require_roles(Role.ADMIN)
def lexicon_admin() -> Page:
    return _lexicon_page(editing=request.args.get("edit", "")[:64])


def _words(field: str) -> list[str]:
    raw = request.form.get(field, "").replace("，", ",").replace("、", ",").replace("\n", ",")
    return [w.strip() for w in raw.split(",") if w.strip()]


def _targets() -> dict[str, float]:
    out: dict[str, float] = {}
    for part in _words("targets"):
        code, _sep, weight = part.partition(":")
        try:
            out[code.strip().upper()] = float(weight) if weight.strip() else 1.0
        except ValueError:
            out[code.strip().upper()] = -1.0  # refused by the schema with a message
    return out


@bp.post("/staff/guide/lexicon")
@sign_in_page_required
@require_roles(Role.ADMIN)
def save_lexicon_entry() -> Page:
    account = signed_in_account()
    key = request.form.get("key", "").strip()
    with undo_on_error() as outcome:
        try:
            KEY(key)
            values = EntryArgs().load(
                {
                    "kind": request.form.get("kind", ""),
                    "label_zh": request.form.get("label_zh", "").strip(),
                    "label_en": request.form.get("label_en", "").strip(),
                    "zh": _words("zh"),
                    "en": _words("en"),
                    "pinyin": _words("pinyin"),
                    "targets": _targets(),
                    "active": request.form.get("active") == "on",
                }
            )
        except ValidationError as exc:
            raise InvalidInput(
                _l(
                    "Check the entry: %(fields)s",
                    fields=json.dumps(exc.messages, ensure_ascii=False),
                ),
                code=ErrorCode.LEXICON_ENTRY_INVALID,
            ) from exc
        lexicon.save_entry(account.hospital_id, key, values, actor=account, now=utcnow())
    if outcome.error is not None:
        return _lexicon_page(error=outcome.message, status=outcome.status, editing=key)
    flash(_("Saved. Patients' searches use it now."))
    return redirect(url_for("guide_pages.lexicon_admin", _anchor=f"entry-{key}"))


@bp.post("/staff/guide/lexicon/<key>/reset")
@sign_in_page_required
@require_roles(Role.ADMIN)
def reset_lexicon_entry(key: str) -> Page:
    account = signed_in_account()
    with undo_on_error() as outcome:
        lexicon.reset_entry(account.hospital_id, key[:64], actor=account, now=utcnow())
    if outcome.error is not None:
        return _lexicon_page(error=outcome.message, status=outcome.status)
    flash(_("The entry is as shipped again."))
    return redirect(url_for("guide_pages.lexicon_admin"))


def _map_page(*, error: Any = None, status: int = 200, text: str | None = None) -> Page:
    hospital_id = signed_in_account().hospital_id
    graph = maps.load_graph(hospital_id)
    lang = page_language()
    current = json.dumps(maps.export_map(hospital_id), ensure_ascii=False, indent=1)
    return (
        render_template(
            "guide/map_admin.html",
            floors=[(key, floor_svg(graph, key, None, lang)) for key in graph.floors],
            map_text=text if text is not None else current,
            error=error,
        ),
        status,
    )


@bp.get("/staff/guide/map")
@sign_in_page_required
@require_roles(Role.ADMIN)
def map_admin() -> Page:
    return _map_page()


@bp.post("/staff/guide/map")
@sign_in_page_required
@require_roles(Role.ADMIN)
def save_map() -> Page:
    account = signed_in_account()
    text = request.form.get("map", "")
    with undo_on_error() as outcome:
        try:
            data = MapArgs().load(json.loads(text))
        except (ValueError, ValidationError) as exc:
            detail = exc.messages if isinstance(exc, ValidationError) else str(exc)
            raise InvalidInput(
                _l(
                    "The map is not valid JSON of the expected form: %(detail)s",
                    detail=json.dumps(detail, ensure_ascii=False)[:500],
                ),
                code=ErrorCode.MAP_INVALID,
            ) from exc
        counts = maps.replace_map(account.hospital_id, data, actor=account, now=utcnow())
    if outcome.error is not None:
        return _map_page(error=outcome.message, status=outcome.status, text=text)
    flash(_("Map saved: %(floors)d floors, %(nodes)d places, %(edges)d links.", **counts))
    return redirect(url_for("guide_pages.map_admin"))


def route_panel(
    hospital_id: int,
    to_point: str,
    from_point: str | None = None,
    accessible: bool = False,
    lang: str = "zh",
    show_map: bool = True,
) -> Markup:
    """The route to a service point as an HTML panel: steps and highlighted floor maps.

    Any page may call it (a Jinja global): from the best entrance unless from_point is given;
    accessible avoids stairs and steps. Empty when the hospital has no map of that point.
    """
    found = maps.route_or_none(
        hospital_id, to_point=to_point, from_point=from_point, step_free=accessible
    )
    if found is None:
        return Markup("")
    return Markup(
        render_template(
            "guide/_route.html",
            found=found,
            lang=lang,
            to_point=to_point,
            from_point=from_point,
            accessible=accessible,
            show_map=show_map,
        )
    )
