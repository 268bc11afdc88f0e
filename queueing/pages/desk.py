"""The registration desk: walk-in tickets for those who come to the window."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, InvalidInput, NotFound
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.visits.codes import looks_like_visit_code
from hospital.visits.services import visit_at_staff_station
from hospital.web.navigation import sign_in_page_required
from queueing import snapshots
from queueing.desk_slips import looks_like_desk_slip_code
from queueing.models import PriorityClass
from queueing.pages.common import PRIORITIES, bp, form_int, service_today
from queueing.services import desk_slip_codes, issuing, notify, queues

# ---- the registration desk: walk-in tickets for those who come to the window ----------------

DESK_ROLES = (Role.REGISTRAR, Role.NURSE, Role.ADMIN)


@bp.route("/queueing/desk", methods=["GET", "POST"])
@sign_in_page_required
@require_roles(*DESK_ROLES)
def desk() -> Any:
    """Give a walk-in patient a number at the desk (with the patient's record, or anonymous)."""
    from hospital.patients.services.records import confirm_identity, look_up_at_desk
    from hospital.qr import qr_svg

    actor = signed_in_account()
    error = None
    to_confirm = None
    if request.method == "POST":
        number = request.form.get("patient_number", "").strip()
        point_id = form_int("service_point_id")
        slip = looks_like_desk_slip_code(number)
        if slip:
            patient = None  # a kiosk's desk slip: a walk-in without a phone, anonymous
        elif number and looks_like_visit_code(number):
            visit = visit_at_staff_station(actor, number, station="desk", now=utcnow())
            patient = db.session.get(Patient, visit.patient_id)
        else:
            patient = look_up_at_desk(staff=actor, text=number) if number else None
        priority = request.form.get("priority") or "none"
        try:
            if slip:
                # The slip names the department's queue; without one, the queue chosen here.
                slip_point = desk_slip_codes.point_of_desk_slip(
                    hospital_id=actor.hospital_id, code=number, now=utcnow()
                )
                point_id = slip_point.id if slip_point is not None else point_id
            elif number and patient is None:
                raise InvalidInput(
                    _l(
                        "No patient has this record or identity number. Check it, or leave it empty."
                    ),
                    code=ErrorCode.PATIENT_NOT_FOUND,
                )
            if priority not in PRIORITIES:
                raise InvalidInput(
                    _l("Choose a priority from the list."), code=ErrorCode.BAD_PRIORITY
                )
            if patient is not None and patient.identity_confirmed_at is None:
                # A record a family account made: staff check the person before it is used.
                if request.form.get("identity_checked") == str(patient.id):
                    confirm_identity(staff=actor, patient_id=patient.id, now=utcnow())
                else:
                    to_confirm = patient
            if to_confirm is None:
                ticket = issuing.issue_walk_in(
                    actor=actor,
                    hospital_id=actor.hospital_id,
                    service_point_id=point_id,
                    now=utcnow(),
                    patient_id=patient.id if patient else None,
                    priority=PriorityClass(priority) if priority != "none" else None,
                )
        except DomainError as exc:
            error = exc.message  # answered with 422: the request edge rolls back
            to_confirm = None
        else:
            if to_confirm is None:
                # Redirect, so reloading the page never issues a second number.
                return redirect(url_for("queueing_pages.desk", ticket=ticket.token))
    issued = None
    if request.args.get("ticket"):
        issued = notify.ticket_by_token(request.args["ticket"])
        if issued.hospital_id != actor.hospital_id:
            raise NotFound(_l("No such ticket."), code=ErrorCode.TICKET_NOT_FOUND)
    patient = db.session.get(Patient, issued.patient_id) if issued and issued.patient_id else None
    page = render_template(
        "queueing/desk.html",
        points=[
            point for point, _queue in queues.open_queues_on(actor.hospital_id, service_today())
        ],
        priorities={k: str(v) for k, v in PRIORITIES.items()},
        error=error,
        issued=issued,
        masked_name=mask_name(patient.name) if patient else "",
        ahead=snapshots.people_ahead(issued, now=utcnow()) if issued else None,
        qr=Markup(qr_svg(notify.ticket_link(issued), box_size=4)) if issued else "",
        form=request.form,
        to_confirm=to_confirm,
        confirm_name=mask_name(to_confirm.name) if to_confirm else "",
    )
    return (page, 422) if error else page
