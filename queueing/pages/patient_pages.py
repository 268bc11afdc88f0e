"""The patient's pages: today's queue numbers, the live ticket page, arrival by poster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from hospital.accounts.guards import signed_in_account, token_access
from hospital.db import db, utcnow
from hospital.errors import DomainError
from hospital.organisation.models import ServicePoint
from hospital.patients.access import Permission, patients_acting_for
from hospital.visits.services import visit_of
from hospital.web.navigation import sign_in_page_required
from queueing.models import ServiceQueue, Ticket
from queueing.pages.common import OPEN_STATUSES, STATUSES, bp, form_int, service_today
from queueing.services import arrivals, notify


@bp.route("/tickets")
@sign_in_page_required
def my_tickets() -> str:
    """Today's queue tickets of the patients this account acts for, each linking to its live page."""
    account = signed_in_account()
    patients = {p.id: p for p in patients_acting_for(account, Permission.VIEW)}
    since = utcnow() - timedelta(hours=24)
    rows = (
        db.session.execute(
            sa.select(Ticket, ServiceQueue)
            .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
            .where(
                Ticket.hospital_id == account.hospital_id,
                Ticket.patient_id.in_(patients.keys()),
                Ticket.arrived_at >= since,
            )
            .order_by(Ticket.arrived_at.desc())
        ).all()
        if patients
        else []
    )
    return render_template(
        "queueing/my_tickets.html",
        tickets=[
            (
                ticket,
                db.session.get(ServicePoint, queue.service_point_id),
                patients[ticket.patient_id],
            )
            for ticket, queue in rows
            if ticket.patient_id in patients
        ],
        open_statuses=OPEN_STATUSES,
        statuses=STATUSES,
    )


@bp.route("/q/<token>")
@token_access("the ticket's link token")
def ticket_page(token: str) -> str:
    """The patient's ticket page (phone): big number, place in line, ETA, room; live."""
    from hospital.qr import qr_svg

    ticket = notify.ticket_by_token(token)
    # A visit's patient shows its one code at every station (on the visit page): the ticket's
    # own QR is then not shown, so the phone never offers two codes.
    visit = (
        visit_of(ticket.hospital_id, ticket.patient_id, ticket.queue.service_day)
        if ticket.patient_id is not None
        else None
    )
    return render_template(
        "queueing/ticket.html",
        ticket=ticket,
        point=ticket.queue.service_point,
        statuses=STATUSES,
        visit_code=visit.code if visit is not None else None,
        qr=Markup(qr_svg(notify.ticket_link(ticket), box_size=4)) if visit is None else "",
    )


@bp.route("/arrive", methods=["GET"])
@sign_in_page_required
def arrive_start() -> Any:
    """ "I have arrived": scan the poster at the entrance, or type the code printed under it."""
    code = request.args.get("poster_code", "").strip()
    if code:
        return redirect(url_for("queueing_pages.arrive", code=code[:100]))
    return render_template(
        "queueing/arrive.html", point=None, appointments=[], names={}, error=None
    )


def _arrivals_at(account: Any, point: ServicePoint) -> list[Any]:
    """Today's appointments of the patients the account books for that check in at this point."""
    from scheduling.services.queries import (
        AppointmentState,
        appointments_for_account,
        room_of_session,
    )

    allowed = {p.id for p in patients_acting_for(account, Permission.BOOK)}
    today = service_today()
    found = []
    for appointment in appointments_for_account(actor=account, now=utcnow()):
        session = appointment.slot.session
        if (
            appointment.patient_id in allowed
            and appointment.local_date == today
            and appointment.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN)
            and (
                room_of_session(session) == point.id or session.department_id == point.department_id
            )
        ):
            found.append(appointment)
    return found


@bp.route("/arrive/<code>", methods=["GET", "POST"])
@sign_in_page_required
def arrive(code: str) -> Any:
    """The page a check-in poster's QR opens: check in today's appointment here, get the number."""
    account = signed_in_account()
    point = arrivals.point_of_poster(account.hospital_id, code)
    error = None
    if request.method == "POST":
        try:
            ticket, _created = arrivals.check_in_from_phone(
                actor=account,
                appointment_id=form_int("appointment_id"),
                poster_code=code,
                now=utcnow(),
            )
        except DomainError as exc:
            if exc.is_refusal or exc.status == 404:
                raise
            db.session.rollback()
            error = exc.message
        else:
            return redirect(url_for("queueing_pages.ticket_page", token=ticket.token), 303)
    page = render_template(
        "queueing/arrive.html",
        point=point,
        code=code,
        appointments=_arrivals_at(account, point),
        names={p.id: p.name for p in patients_acting_for(account, Permission.BOOK)},
        error=error,
    )
    return (page, 409) if error else page
