"""The patient's visit pages: today's visits, and one visit's next step, timeline and code."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.db import utcnow
from hospital.errors import DomainError
from hospital.qr import qr_svg
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from journey import services
from journey.presenting import visit_dict

bp = Blueprint("journey_pages", __name__, template_folder="templates")

add_home_tile(
    Tile(
        "journey_pages.desk",
        _l("Find a visit"),
        _l("Desk: by visit code, record number or ID number"),
        order=92,
        show_signed_out=False,
        staff_only=True,
    )
)
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


@bp.route("/visits/desk")
@sign_in_page_required
@require_roles(*services.DESK_ROLES)
def desk() -> tuple[str, int] | str:
    """The desk finds a visit by its code, a record number or an ID number (audited reads)."""
    now = utcnow()
    query = request.args.get("q", "").strip()
    found: list[dict[str, object]] = []
    try:
        found = [
            {**visit_dict(v, now=now), "record_number": v.patient.medical_record_number}
            for v in services.desk_search(signed_in_account(), query, now=now)
        ]
    except DomainError as exc:
        page = render_template("journey/desk.html", query=query, visits=[], error=exc.message)
        return page, exc.status  # the request edge rolls back; refusals stay audited
    return render_template("journey/desk.html", query=query, visits=found, error=None)


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
