"""A patient's appointments: confirm a hold, the list with check-in codes, cancel, reschedule."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.guards import signed_in_account
from hospital.accounts.models import Account
from hospital.audit.service import record_staff_read
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.qr import qr_svg
from hospital.visits.services import visit_of
from hospital.web.fixable_errors import flash_fixable_errors, undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling import queue_port
from scheduling.appointment_codes import appointment_code
from scheduling.models import Appointment
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import int_arg
from scheduling.pages.page_context import SEARCH_DAYS, local_today, page_context
from scheduling.services import booking, changes, keep_or_release, overviews, queries
from scheduling.services.places import effective_state
from scheduling.services.rules import rules_for

WARN_BEFORE_SECONDS = 120


def _details(appointment: Appointment) -> dict[str, Any]:
    """The appointment and the names shown beside it, as template variables."""
    details = overviews.appointment_details(appointment)
    return {f.name: getattr(details, f.name) for f in fields(details)}


def _audit_staff_read(account: Account, appointment: Appointment) -> None:
    record_staff_read(
        actor=account,
        action="appointment.read",
        object_type="appointment",
        reads=[(appointment.id, appointment.patient_id)],
    )


def check_in_code(appointment: Appointment) -> str:
    """The text of the appointment's QR that a kiosk scans to check the patient in."""
    return appointment_code(
        str(current_app.config["SECRET_KEY"]), appointment.hospital_id, appointment.id
    )


def _check_in_qr(appointment: Appointment) -> tuple[str, Markup]:
    """The one code the patient shows: the visit code of the appointment's day (就诊码).

    The appointment's own signed code still checks in at a kiosk, but is no longer shown.
    """
    visit = visit_of(appointment.hospital_id, appointment.patient_id, appointment.local_date)
    code = visit.code if visit is not None else check_in_code(appointment)
    return code, Markup(qr_svg(code, box_size=4))


@bp.route("/appointments/<int:appointment_id>/confirm", methods=["GET", "POST"])
@sign_in_page_required
def confirm(appointment_id: int) -> Page:
    account = signed_in_account()
    appointment = queries.get_appointment(appointment_id, actor=account)
    _audit_staff_read(account, appointment)
    order = queries.unpaid_registration_order(appointment)
    if order is not None and request.method == "POST":
        # A fee-bearing time is booked by its payment (billing's order_paid), never for free.
        return redirect(url_for("billing_pages.pay", order_id=order.id))
    error = None
    if request.method == "POST":
        with undo_on_error() as outcome:
            booking.confirm(appointment_id, actor=account, now=utcnow())
        if outcome.error is None:
            flash(_("Your appointment is booked. We sent you a confirmation."), "success")
            return redirect(url_for("scheduling_pages.my_appointments"))
        error = outcome.message
        appointment = queries.get_appointment(appointment_id, actor=account)
    now = utcnow()
    page = render_template(
        "scheduling/confirm.html",
        error=error,
        state=effective_state(appointment, now=now),
        seconds_left=max(0, int((appointment.hold_expires_at - now).total_seconds()))
        if appointment.hold_expires_at
        else 0,
        warn_before=WARN_BEFORE_SECONDS,
        order=order,
        now=now,
        **_details(appointment),
        **page_context(),
    )
    return (page, 409) if error else page


@bp.get("/appointments")
@sign_in_page_required
def my_appointments() -> Page:
    now = utcnow()
    account = signed_in_account()
    mine = overviews.account_appointments(actor=account, now=now)
    return render_template(
        "scheduling/my_appointments.html",
        appointments=mine.appointments,
        patients=mine.patients,
        now=now,
        contexts=mine.details,
        check_in_qr=_check_in_qr,
        asking=lambda a: keep_or_release.asking(a, now=now),
        arrival_url=queue_port.arrival_url(),
        today=local_today(account.hospital_id),
        **page_context(),
    )


def _back_to_list() -> str:
    if request.form.get("from") == "day":
        return url_for(
            "scheduling_pages.staff_day",
            clinician_id=request.form.get("clinician_id", ""),
            date=request.form.get("date", ""),
        )
    return url_for("scheduling_pages.my_appointments")


@bp.post("/appointments/<int:appointment_id>/keep")
@sign_in_page_required
@flash_fixable_errors(back=_back_to_list)
def keep(appointment_id: int) -> Page:
    """Keep-or-release answered "keep": the patient will come."""
    keep_or_release.keep(appointment_id, actor=signed_in_account(), now=utcnow())
    flash(_("Thank you: you keep your appointment. See you then."), "success")
    return redirect(url_for("scheduling_pages.my_appointments"), 303)


@bp.get("/appointments/<int:appointment_id>/cancel")
@sign_in_page_required
def cancel_page(appointment_id: int) -> Page:
    """Ask before cancelling: which appointment, and what happens to the fee."""
    account = signed_in_account()
    appointment = queries.get_appointment(appointment_id, actor=account)
    _audit_staff_read(account, appointment)
    return render_template(
        "scheduling/cancel.html",
        now=utcnow(),
        state=effective_state(appointment, now=utcnow()),
        **_details(appointment),
        **page_context(),
    )


@bp.post("/appointments/<int:appointment_id>/cancel")
@sign_in_page_required
@flash_fixable_errors(back=_back_to_list)
def cancel(appointment_id: int) -> Page:
    changes.cancel(
        appointment_id,
        actor=signed_in_account(),
        now=utcnow(),
        reason=request.form.get("reason", "")[:200],
    )
    flash(_("The appointment was cancelled."), "success")
    return redirect(_back_to_list())


@bp.route("/appointments/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@sign_in_page_required
def reschedule(appointment_id: int) -> Page:
    account = signed_in_account()
    appointment = queries.get_appointment(appointment_id, actor=account)
    _audit_staff_read(account, appointment)
    error = None
    if request.method == "POST":
        slot_id = int_arg("slot_id")
        with undo_on_error() as outcome:
            if slot_id is None:
                raise InvalidInput(_l("Choose a new time."), code=ErrorCode.SLOT_REQUIRED)
            changes.reschedule(appointment_id, actor=account, new_slot_id=slot_id, now=utcnow())
        if outcome.error is None:
            flash(_("The appointment was moved to the new time."), "success")
            return redirect(url_for("scheduling_pages.my_appointments"))
        error = outcome.message
        appointment = queries.get_appointment(appointment_id, actor=account)
    today = local_today(account.hospital_id)
    page = render_template(
        "scheduling/reschedule.html",
        slots=overviews.reschedule_choices(
            account.hospital_id,
            appointment,
            first_date=today,
            last_date=today + timedelta(days=SEARCH_DAYS - 1),
            now=utcnow(),
        ),
        error=error,
        rules=rules_for(account.hospital_id),
        **_details(appointment),
        **page_context(),
    )
    return (page, 409) if error else page
