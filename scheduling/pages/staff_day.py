"""Clinic staff: a clinician's day list, add-on appointments and check-in at the desk."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.audit.service import record_staff_read
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.patients.identity import mask_name
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling import queue_port
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import date_arg, int_arg
from scheduling.pages.page_context import local_today, page_context
from scheduling.services import changes, overviews, queries, waitlist


@bp.get("/staff/day")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.NURSE, Role.CLINICIAN, Role.ADMIN)
def staff_day() -> Page:
    return _staff_day_page()


def _staff_day_page(*, error: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    day = date_arg("date", local_today(account.hospital_id))
    found = overviews.staff_day(
        actor=account, clinician_id=int_arg("clinician_id"), local_date=day, now=utcnow()
    )
    record_staff_read(
        actor=account,
        action="appointment.day_list.read",
        object_type="appointment",
        reads=[(a.id, a.patient_id) for a in found.appointments],
        detail={"clinician_id": found.clinician_id, "date": day.isoformat()},
    )
    page = render_template(
        "scheduling/staff_day.html",
        clinicians=found.clinicians,
        clinician_id=found.clinician_id,
        day=day,
        appointments=found.appointments,
        sessions=found.sessions,
        slots=found.slots,
        patients=found.patients,
        counts=found.counts,
        waiting=waitlist.waiting_for_sessions(found.sessions),
        demand=(
            waitlist.demand_by_clinician(actor=account, now=utcnow())
            if account.has_role(Role.REGISTRAR, Role.ADMIN)
            else []
        ),
        error=error,
        can_add_on=account.has_role(Role.REGISTRAR, Role.CLINICIAN, Role.ADMIN),
        can_cancel=account.has_role(Role.REGISTRAR, Role.ADMIN),
        can_lift=account.has_role(Role.REGISTRAR, Role.ADMIN),
        can_add_sessions=account.has_role(Role.ADMIN),
        mask_name=mask_name,
        **page_context(),
    )
    return page, status


def _back_to_day() -> str:
    """The day list the staff form was sent from (its clinician and date)."""
    return url_for(
        "scheduling_pages.staff_day",
        clinician_id=request.form.get("clinician_id"),
        date=request.form.get("date"),
    )


@bp.post("/staff/add-on")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.CLINICIAN, Role.ADMIN)
def staff_add_on() -> Page:
    account = signed_in_account()
    record_number = request.form.get("medical_record_number", "").strip()
    with undo_on_error() as outcome:
        patient = queries.patient_with_record_number(account.hospital_id, record_number)
        slot_id = int_arg("slot_id")
        if slot_id is None:
            raise NotFound(
                _l("No such slot. Search again for free times."), code=ErrorCode.SLOT_NOT_FOUND
            )
        changes.add_on(
            actor=account,
            slot_id=slot_id,
            patient_id=patient.id,
            reason=request.form.get("reason", "")[:200],
            now=utcnow(),
        )
    if outcome.error is not None:
        return _staff_day_page(error=outcome.message, status=outcome.status)
    flash(_("Add-on appointment made for %(name)s.", name=patient.name), "success")
    return redirect(_back_to_day())


@bp.post("/staff/appointments/<int:appointment_id>/check-in")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.NURSE, Role.ADMIN)
def staff_check_in(appointment_id: int) -> Page:
    number = None
    with undo_on_error() as outcome:
        actor, now = signed_in_account(), utcnow()
        # The queue number exactly as the kiosk issues it; without a queue, only the arrival.
        number = queue_port.staff_check_in(actor=actor, appointment_id=appointment_id, now=now)
        if number is None:
            changes.check_in(appointment_id, actor=actor, now=now)
    if outcome.error is not None:
        return _staff_day_page(error=outcome.message, status=outcome.status)
    if number:
        flash(_("Checked in: queue number %(number)s.", number=number), "success")
    else:
        flash(_("Checked in."), "success")
    return redirect(_back_to_day())
