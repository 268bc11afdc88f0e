"""REST endpoints of the guide (/api/v1/guide): plain-word triage, the lexicon, maps and routes.

Asking and finding the way are public; changing the lexicon or the map needs the admin role.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint

from hospital.accounts.guards import public, require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.errors import InvalidInput
from hospital.guide.presenting import answer_view, route_view
from hospital.guide.schemas import KEY as KEY_RULE
from hospital.guide.schemas import (
    EntryArgs,
    EntryOut,
    MapArgs,
    MapCountsOut,
    MapOut,
    RouteOut,
    RouteQueryArgs,
    TriageOut,
    TriageQueryArgs,
)
from hospital.guide.services import lexicon, maps
from hospital.organisation.lookup import current_hospital

blp = Blueprint(
    __name__.split(".")[1],
    __name__,
    description="Ask in plain words (智能导诊) and find the way inside the hospital (院内导航).",
)


@blp.route("/triage", methods=["GET"])
@public("advice on where to go, from a phrase; reads no one's data")
@blp.arguments(TriageQueryArgs, location="query")
@blp.response(200, TriageOut)
def ask(args: dict[str, Any]) -> dict[str, Any]:
    """Rank departments, clinician types or services for a phrase; red flags say call 120 first."""
    return answer_view(lexicon.answer(current_hospital().id, args["q"]))


@blp.route("/lexicon", methods=["GET"])
@require_roles(Role.ADMIN)
@blp.response(200, EntryOut(many=True))
def list_entries() -> list[dict[str, Any]]:
    """Every lexicon entry of this hospital: shipped, edited or its own."""
    return [e.as_dict() for e in lexicon.entries(signed_in_account().hospital_id)]


def _key(key: str) -> str:
    try:
        KEY_RULE(key)
    except Exception as exc:  # marshmallow.ValidationError
        raise InvalidInput(
            _l("Use 1 to 64 lower-case letters, digits or '_' for the key.")
        ) from exc
    return key


@blp.route("/lexicon/<key>", methods=["PUT"])
@require_roles(Role.ADMIN)
@blp.arguments(EntryArgs)
@blp.response(200, EntryOut)
@blp.alt_response(422, description="A field is missing or wrong.")
def save_entry(args: dict[str, Any], key: str) -> dict[str, Any]:
    """Write this hospital's version of an entry (a new key adds one)."""
    account = signed_in_account()
    saved = lexicon.save_entry(account.hospital_id, _key(key), args, actor=account, now=utcnow())
    return saved.as_dict()


@blp.route("/lexicon/<key>", methods=["DELETE"])
@require_roles(Role.ADMIN)
@blp.response(204)
@blp.alt_response(404, description="The hospital has no version of that entry.")
def reset_entry(key: str) -> None:
    """Drop this hospital's version: a shipped entry is as shipped again."""
    account = signed_in_account()
    lexicon.reset_entry(account.hospital_id, _key(key), actor=account, now=utcnow())


@blp.route("/map", methods=["GET"])
@public("the hospital's floor plan, shown to every visitor")
@blp.response(200, MapOut)
def get_map() -> dict[str, Any]:
    """The hospital's floors, nodes and edges, in the form PUT takes."""
    return maps.export_map(current_hospital().id)


@blp.route("/map", methods=["PUT"])
@require_roles(Role.ADMIN)
@blp.arguments(MapArgs)
@blp.response(200, MapCountsOut)
@blp.alt_response(
    422, description="The map names a floor, node or service point that is not there."
)
def put_map(args: dict[str, Any]) -> dict[str, int]:
    """Replace the whole map (floors, nodes, edges) in one go."""
    account = signed_in_account()
    return maps.replace_map(account.hospital_id, args, actor=account, now=utcnow())


@blp.route("/route", methods=["GET"])
@public("directions between public places of the hospital")
@blp.arguments(RouteQueryArgs, location="query")
@blp.response(200, RouteOut)
@blp.alt_response(404, description="A place is not on the map, or no route joins them.")
def route(args: dict[str, Any]) -> dict[str, Any]:
    """The shortest route to a service point, from another or the best entrance; step-free on request."""
    found = maps.route_between(
        current_hospital().id,
        to_point=args["to_point"],
        from_point=args.get("from_point"),
        step_free=args["accessible"],
    )
    return route_view(found, args["lang"])
