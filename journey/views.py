"""The patient's visit pages: today's visits, and one visit's next step, timeline and code."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.guards import signed_in_account
from hospital.db import utcnow
from hospital.qr import qr_svg
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from journey import services
from journey.presenting import visit_dict

bp = Blueprint("journey_pages", __name__, template_folder="templates")

add_home_tile(
    Tile(
        "journey_pages.my_visits",
        _l("My visits"),
        _l("One code for every station, and what to do next"),
        order=5,
    )
)


@bp.route("/visits")
@sign_in_page_required
def my_visits() -> str:
    """Today's and coming visits of the patients this account acts for, today's first."""
    found = services.visits_for_account(actor=signed_in_account(), now=utcnow())
    return render_template("journey/visits.html", visits=found)


@bp.route("/visits/<code>")
@sign_in_page_required
def visit_page(code: str) -> str:
    """One visit: the next step in large type, the visit code as a large QR, the timeline; live."""
    now = utcnow()
    view = services.visit_for_viewer(code, actor=signed_in_account(), now=now)
    return render_template(
        "journey/visit.html",
        visit=visit_dict(view, now=now),
        qr=Markup(qr_svg(view.visit.code, box_size=10, border=2)),
    )
