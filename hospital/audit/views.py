"""The patient's page "who opened my records" (谁查看了我的记录)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from hospital.accounts.guards import signed_in_account
from hospital.audit.record_access import staff_accesses
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile

bp = Blueprint("audit_pages", __name__, template_folder="templates")

add_home_tile(
    Tile(
        "audit_pages.record_access",
        _l("Who opened my records"),
        _l("Every time hospital staff opened your or your family's data"),
        order=90,
    )
)


def _page_arg() -> int:
    raw = request.args.get("page", "")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


@bp.get("/my-records/access")
@sign_in_page_required
def record_access() -> str:
    accesses = staff_accesses(signed_in_account(), page=_page_arg())
    return render_template("audit/record_access.html", accesses=accesses)
