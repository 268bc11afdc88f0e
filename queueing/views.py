"""Pages of the virtual queue: the patient's ticket page, the staff console and the display board."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import STAFF_ROLES
from hospital.db import db
from hospital.errors import InvalidInput, NotFound
from hospital.organisation.models import ServicePoint
from queueing import service
from queueing.models import Counter

bp = Blueprint("queueing_pages", __name__, template_folder="templates")

# Sentences for the ordering policy's reason codes (console "why next").
REASONS = {
    "emergency": _l("Emergency: always first."),
    "priority_turn": _l("Priority patient: one is called after every %(ratio)s regular patients."),
    "only_priority_waiting": _l("Only priority patients are waiting."),
    "waited_long": _l(
        "Has waited %(waited_minutes)s minutes: no longer passed by priority patients."
    ),
    "booked_slot": _l("Booked appointment, arrived on time: ordered by slot time."),
    "arrival_order": _l("Ordered by arrival time."),
    "requeued_after_miss": _l("Missed a call and was moved back a few places."),
}
PRIORITIES = {
    "none": _l("Regular"),
    "emergency": _l("Emergency"),
    "elderly": _l("Aged"),
    "disability": _l("Disability"),
    "pregnancy": _l("Pregnancy"),
    "returning": _l("Returning with results"),
}
STATUSES = {
    "waiting": _l("Waiting"),
    "called": _l("It is your turn"),
    "serving": _l("Being served"),
    "done": _l("Finished"),
    "no_show": _l("Missed"),
    "transferred": _l("Sent to another queue"),
    "cancelled": _l("Cancelled"),
}


@bp.route("/q/<token>")
def ticket_page(token: str) -> str:
    """The patient's ticket page (phone): big number, place in line, ETA, room; live."""
    from hospital.qr import qr_svg

    ticket = service.ticket_by_token(token)
    return render_template(
        "queueing/ticket.html",
        ticket=ticket,
        point=ticket.queue.service_point,
        statuses=STATUSES,
        qr=Markup(qr_svg(service.ticket_link(ticket), box_size=4)),
    )


@bp.route("/queueing/console/<int:counter_id>")
@require_roles(*STAFF_ROLES)
def console_page(counter_id: int) -> str:
    """The staff console for one counter."""
    actor = signed_in_account()
    counter = db.session.get(Counter, counter_id)
    if counter is None or counter.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such counter."), code="counter_not_found")
    others = (
        db.session.query(ServicePoint)
        .filter(
            ServicePoint.hospital_id == actor.hospital_id,
            ServicePoint.id != counter.service_point_id,
            ServicePoint.is_active.is_(True),
        )
        .order_by(ServicePoint.code)
        .all()
    )
    return render_template(
        "queueing/console.html",
        counter=counter,
        point=counter.service_point,
        others=others,
        reasons={k: str(v) for k, v in REASONS.items()},
        priorities={k: str(v) for k, v in PRIORITIES.items()},
    )


@bp.route("/queueing/board")
def board_page() -> str:
    """The display board (landscape, full screen) of a department or of listed service points."""
    points = request.args.get("points", "")
    department = request.args.get("department", "")
    parts = points.split(",") if points else []
    if department.isdigit() and not points:
        scope = f"department={int(department)}"
    elif parts and len(parts) <= 20 and all(p.isdigit() for p in parts):
        scope = "points=" + ",".join(parts)
    else:
        raise InvalidInput(
            _l("Give the board a department (?department=2) or service points (?points=1,2,3)."),
            code="board_scope_required",
        )
    return render_template("queueing/board.html", scope=scope)
