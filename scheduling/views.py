"""Pages: book an appointment (phone first), my appointments, the staff day list, the schedule editor."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Account, Role
from hospital.audit.service import record_staff_read
from hospital.billing.models import Order, OrderStatus
from hospital.db import db, utcnow
from hospital.errors import DomainError, InvalidInput, NotFound
from hospital.organisation.models import Clinician, Department
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.qr import qr_svg
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from scheduling import service
from scheduling.appointment_codes import appointment_code
from scheduling.finding import department_matches
from scheduling.models import (
    Appointment,
    AppointmentState,
    ClinicSession,
    ExceptionKind,
    FeeClass,
)

bp = Blueprint("scheduling_pages", __name__, template_folder="templates")

Page = str | tuple[str, int] | WerkzeugResponse
SEARCH_DAYS = 14
WARN_BEFORE_SECONDS = 120

FEE_CLASSES = {
    FeeClass.GENERAL: _l("General clinic"),
    FeeClass.EXPERT: _l("Expert clinic"),
    FeeClass.SPECIAL_NEEDS: _l("Special-needs clinic"),
}
STATES = {
    AppointmentState.HELD: _l("Held, not yet confirmed"),
    AppointmentState.BOOKED: _l("Booked"),
    AppointmentState.CHECKED_IN: _l("Checked in"),
    AppointmentState.COMPLETED: _l("Seen"),
    AppointmentState.CANCELLED: _l("Cancelled"),
    AppointmentState.EXPIRED: _l("Hold lapsed"),
    AppointmentState.NO_SHOW: _l("Missed"),
}
WEEKDAYS = [
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
]
CHECK_THE_FIELDS = _l("Some fields need your attention. Check them below.")
EXCEPTION_KINDS = {ExceptionKind.HOLIDAY: _l("Public holiday"), ExceptionKind.LEAVE: _l("Leave")}

add_home_tile(
    Tile(
        "scheduling_pages.book",
        _l("Book an appointment"),
        _l("Choose a department, a doctor and a time"),
        order=10,
    )
)
add_home_tile(
    Tile(
        "scheduling_pages.my_appointments",
        _l("My appointments"),
        _l("Confirm, cancel, change or add to your calendar"),
        order=20,
    )
)


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def _common() -> dict[str, Any]:
    return {
        "fee_classes": FEE_CLASSES,
        "states": STATES,
        "yuan": yuan,
        "weekdays": WEEKDAYS,
        "effective_state": lambda a: service.effective_state(a, utcnow()),
    }


def _today(hospital_id: int) -> date:
    return utcnow().astimezone(service.hospital_zone(hospital_id)).date()


def _int_arg(name: str) -> int | None:
    raw = request.values.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _clinicians(hospital_id: int, *, active_only: bool = False) -> list[Clinician]:
    query = sa.select(Clinician).where(Clinician.hospital_id == hospital_id)
    if active_only:
        query = query.where(Clinician.is_active.is_(True))
    return list(db.session.scalars(query.order_by(Clinician.department_id, Clinician.id)))


def _departments_by_id(hospital_id: int) -> dict[int, Department]:
    return {
        d.id: d
        for d in db.session.scalars(
            sa.select(Department).where(Department.hospital_id == hospital_id)
        )
    }


def _date_arg(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.values.get(name, ""))
    except ValueError:
        return default


# ---- patients: booking ----------------------------------------------------------------------


@bp.get("/book")
@sign_in_page_required
def book() -> Page:
    account = signed_in_account()
    query = request.args.get("q", "")[:50]
    departments = db.session.scalars(
        sa.select(Department)
        .where(Department.hospital_id == account.hospital_id, Department.is_active.is_(True))
        .order_by(Department.sort_order, Department.id)
    ).all()
    shown = [
        d for d in departments if department_matches(query, d.name_zh, d.name_en, d.pinyin_initials)
    ]
    return render_template(
        "scheduling/departments.html", departments=shown, query=query, **_common()
    )


@bp.get("/book/departments/<int:department_id>")
@sign_in_page_required
def department_days(department_id: int) -> Page:
    account = signed_in_account()
    department = db.session.get(Department, department_id)
    if department is None or department.hospital_id != account.hospital_id:
        raise NotFound(_l("No such department."), code="department_not_found")
    today = _today(account.hospital_id)
    sessions = service.search_sessions(
        account.hospital_id,
        first_date=today,
        last_date=today + timedelta(days=SEARCH_DAYS - 1),
        department_id=department.id,
        now=utcnow(),
    )
    by_day: dict[date, list[service.AvailableSession]] = {}
    for session in sessions:
        by_day.setdefault(session.local_date, []).append(session)
    return render_template(
        "scheduling/department_days.html",
        department=department,
        by_day=sorted(by_day.items()),
        **_common(),
    )


def _session_page(session_id: int, *, error: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    session = db.session.get(ClinicSession, session_id)
    if session is None or session.hospital_id != account.hospital_id:
        raise NotFound(_l("No such clinic session."), code="session_not_found")
    slots = [
        s
        for s in service.search_availability(
            account.hospital_id,
            first_date=session.local_date,
            last_date=session.local_date,
            clinician_id=session.clinician_id,
            department_id=session.department_id,
            now=utcnow(),
        )
        if s.session_id == session.id
    ]
    patients = patients_acting_for(account, Permission.BOOK)
    page = render_template(
        "scheduling/session_slots.html",
        session=session,
        clinician=db.session.get(Clinician, session.clinician_id) if session.clinician_id else None,
        department=db.session.get(Department, session.department_id),
        slots=slots,
        patients=patients,
        error=error,
        now=utcnow(),
        **_common(),
    )
    return (page, status) if status != 200 else page


@bp.get("/book/sessions/<int:session_id>")
@sign_in_page_required
def session_slots(session_id: int) -> Page:
    return _session_page(session_id)


@bp.post("/book/sessions/<int:session_id>/hold")
@sign_in_page_required
def hold(session_id: int) -> Page:
    account = signed_in_account()
    slot_id, patient_id = _int_arg("slot_id"), _int_arg("patient_id")
    if slot_id is None or patient_id is None:
        return _session_page(
            session_id, error=_("Choose a time and who the appointment is for."), status=422
        )
    try:
        appointment = service.hold(account, patient_id=patient_id, slot_id=slot_id, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _session_page(session_id, error=exc.message, status=exc.status)
    return redirect(url_for("scheduling_pages.confirm", appointment_id=appointment.id))


def _appointment_context(appointment: Appointment) -> dict[str, Any]:
    session = appointment.slot.session
    rules = service.rules_for(appointment.hospital_id)
    zone = service.hospital_zone(appointment.hospital_id)
    return {
        "appointment": appointment,
        "session": session,
        "patient": db.session.get(Patient, appointment.patient_id),
        "clinician": db.session.get(Clinician, session.clinician_id)
        if session.clinician_id
        else None,
        "department": db.session.get(Department, session.department_id),
        "cancel_until": service.patient_cancel_deadline(appointment, zone, rules),
    }


def _audit_staff_read(account: Account, appointment: Appointment) -> None:
    record_staff_read(
        account,
        action="appointment.read",
        object_type="appointment",
        reads=[(appointment.id, appointment.patient_id)],
    )


def _registration_order(appointment: Appointment) -> Order | None:
    """The registration-fee order billing opened when the time was held (none if free)."""
    return db.session.scalar(
        sa.select(Order).where(
            Order.hospital_id == appointment.hospital_id,
            Order.reference == f"appointment:{appointment.id}",
        )
    )


def check_in_code(appointment: Appointment) -> str:
    """The text of the appointment's QR that a kiosk scans to check the patient in."""
    return appointment_code(
        str(current_app.config["SECRET_KEY"]), appointment.hospital_id, appointment.id
    )


@bp.route("/appointments/<int:appointment_id>/confirm", methods=["GET", "POST"])
@sign_in_page_required
def confirm(appointment_id: int) -> Page:
    account = signed_in_account()
    appointment = service.get_appointment(account, appointment_id)
    _audit_staff_read(account, appointment)
    order = _registration_order(appointment) if appointment.fee_fen > 0 else None
    if order is not None and order.status is not OrderStatus.PENDING:
        order = None
    if order is not None and request.method == "POST":
        # A fee-bearing time is booked by its payment (billing's order_paid), never for free.
        return redirect(url_for("billing_pages.pay", order_id=order.id))
    error = None
    if request.method == "POST":
        try:
            service.confirm(account, appointment_id, now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
        else:
            flash(_("Your appointment is booked. We sent you a confirmation."), "success")
            return redirect(url_for("scheduling_pages.my_appointments"))
        appointment = service.get_appointment(account, appointment_id)
    now = utcnow()
    page = render_template(
        "scheduling/confirm.html",
        error=error,
        state=service.effective_state(appointment, now),
        seconds_left=max(0, int((appointment.hold_expires_at - now).total_seconds()))
        if appointment.hold_expires_at
        else 0,
        warn_before=WARN_BEFORE_SECONDS,
        order=order,
        **_appointment_context(appointment),
        **_common(),
    )
    return (page, 409) if error else page


@bp.get("/appointments")
@sign_in_page_required
def my_appointments() -> Page:
    account = signed_in_account()
    appointments = service.appointments_for_account(account, now=utcnow())
    patients = {p.id: p for p in patients_acting_for(account, Permission.VIEW)}
    return render_template(
        "scheduling/my_appointments.html",
        appointments=appointments,
        patients=patients,
        now=utcnow(),
        contexts={a.id: _appointment_context(a) for a in appointments},
        check_in_qr=_check_in_qr,
        **_common(),
    )


def _check_in_qr(appointment: Appointment) -> tuple[str, Markup]:
    code = check_in_code(appointment)
    return code, Markup(qr_svg(code, box_size=4))


@bp.post("/appointments/<int:appointment_id>/cancel")
@sign_in_page_required
def cancel(appointment_id: int) -> Page:
    account = signed_in_account()
    try:
        service.cancel(
            account, appointment_id, now=utcnow(), reason=request.form.get("reason", "")[:200]
        )
    except DomainError as exc:
        if exc.is_refusal:
            raise
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(_back_to_list()), 303
    flash(_("The appointment was cancelled."), "success")
    return redirect(_back_to_list())


def _back_to_list() -> str:
    if request.form.get("from") == "day":
        return url_for(
            "scheduling_pages.staff_day",
            clinician_id=request.form.get("clinician_id", ""),
            date=request.form.get("date", ""),
        )
    return url_for("scheduling_pages.my_appointments")


@bp.route("/appointments/<int:appointment_id>/reschedule", methods=["GET", "POST"])
@sign_in_page_required
def reschedule(appointment_id: int) -> Page:
    account = signed_in_account()
    appointment = service.get_appointment(account, appointment_id)
    _audit_staff_read(account, appointment)
    error = None
    if request.method == "POST":
        slot_id = _int_arg("slot_id")
        try:
            if slot_id is None:
                raise InvalidInput(_l("Choose a new time."), code="slot_required")
            service.reschedule(account, appointment_id, new_slot_id=slot_id, now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
            appointment = service.get_appointment(account, appointment_id)
        else:
            flash(_("The appointment was moved to the new time."), "success")
            return redirect(url_for("scheduling_pages.my_appointments"))
    session = appointment.slot.session
    today = _today(account.hospital_id)
    slots = [
        s
        for s in service.search_availability(
            account.hospital_id,
            first_date=today,
            last_date=today + timedelta(days=SEARCH_DAYS - 1),
            clinician_id=session.clinician_id,
            department_id=session.department_id,
            fee_class=appointment.fee_class,
            only_bookable=True,
            now=utcnow(),
        )
        if s.fee_fen == appointment.fee_fen and s.slot_id != appointment.slot_id
    ]
    page = render_template(
        "scheduling/reschedule.html",
        slots=slots,
        error=error,
        rules=service.rules_for(account.hospital_id),
        **_appointment_context(appointment),
        **_common(),
    )
    return (page, 409) if error else page


# ---- staff: a clinician's day and add-ons ---------------------------------------------------


@bp.get("/staff/day")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.NURSE, Role.CLINICIAN, Role.ADMIN)
def staff_day() -> Page:
    return _staff_day_page()


def _staff_day_page(*, error: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    clinicians = _clinicians(account.hospital_id, active_only=True)
    clinician_id = _int_arg("clinician_id") or (clinicians[0].id if clinicians else None)
    day = _date_arg("date", _today(account.hospital_id))
    appointments = (
        service.day_list(account, clinician_id=clinician_id, local_date=day) if clinician_id else []
    )
    record_staff_read(
        account,
        action="appointment.day_list.read",
        object_type="appointment",
        reads=[(a.id, a.patient_id) for a in appointments],
        detail={"clinician_id": clinician_id, "date": day.isoformat()},
    )
    sessions = db.session.scalars(
        sa.select(ClinicSession)
        .where(ClinicSession.clinician_id == clinician_id, ClinicSession.local_date == day)
        .order_by(ClinicSession.starts_at)
    ).all()
    slots = (
        service.search_availability(
            account.hospital_id,
            first_date=day,
            last_date=day,
            clinician_id=clinician_id,
            now=utcnow() - timedelta(hours=24),
        )
        if clinician_id
        else []
    )
    patients = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Patient).where(Patient.id.in_({a.patient_id for a in appointments}))
        ).all()
    }
    counts: dict[str, int] = {}
    for appointment in appointments:
        state = service.effective_state(appointment, utcnow()).value
        counts[state] = counts.get(state, 0) + 1
    page = render_template(
        "scheduling/staff_day.html",
        clinicians=clinicians,
        clinician_id=clinician_id,
        day=day,
        appointments=appointments,
        sessions=sessions,
        slots=slots,
        patients=patients,
        counts=counts,
        error=error,
        can_add_on=account.has_role(Role.REGISTRAR, Role.CLINICIAN, Role.ADMIN),
        can_cancel=account.has_role(Role.REGISTRAR, Role.ADMIN),
        can_lift=account.has_role(Role.REGISTRAR, Role.ADMIN),
        can_add_sessions=account.has_role(Role.ADMIN),
        mask_name=mask_name,
        **_common(),
    )
    return (page, status) if status != 200 else page


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
    patient = db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == account.hospital_id,
            Patient.medical_record_number == record_number,
        )
    )
    try:
        if patient is None:
            raise InvalidInput(
                _l("No patient has this medical record number. Check it and try again."),
                code="patient_not_found",
            )
        service.add_on(
            account,
            slot_id=_int_arg("slot_id"),
            patient_id=patient.id,
            reason=request.form.get("reason", "")[:200],
            now=utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _staff_day_page(error=exc.message, status=exc.status)
    flash(_("Add-on appointment made for %(name)s.", name=patient.name), "success")
    return redirect(_back_to_day())


@bp.post("/staff/appointments/<int:appointment_id>/check-in")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.NURSE, Role.ADMIN)
def staff_check_in(appointment_id: int) -> Page:
    try:
        service.check_in(signed_in_account(), appointment_id, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _staff_day_page(error=exc.message, status=exc.status)
    flash(_("Checked in."), "success")
    return redirect(_back_to_day())


# ---- admin: the schedule editor ----------------------------------------------------------------


def _parse_time(raw: str | None, field: str, errors: dict[str, str]) -> time | None:
    try:
        return time.fromisoformat((raw or "").strip())
    except ValueError:
        errors[field] = _("Enter a time as hours:minutes, e.g. 08:00.")
        return None


def _parse_date(raw: str | None, field: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        errors[field] = _("Enter a date as year-month-day, e.g. 2026-12-01.")
        return None


def _parse_int(raw: str | None, field: str, errors: dict[str, str], low: int, high: int) -> int:
    raw = (raw or "").strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors[field] = _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
        return low
    return int(raw)


def _schedule_page(*, error: Any = None, errors: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    clinicians = _clinicians(account.hospital_id)
    page = render_template(
        "scheduling/schedule_editor.html",
        templates=service.list_templates(account),
        exceptions=service.list_exceptions(account, now=utcnow()),
        clinicians={c.id: c for c in clinicians},
        departments=_departments_by_id(account.hospital_id),
        exception_kinds=EXCEPTION_KINDS,
        rules=service.rules_for(account.hospital_id),
        values=request.form if request.method == "POST" else {},
        error=error,
        errors=errors or {},
        **_common(),
    )
    return (page, status) if status != 200 else page


def _session_values(account: Account, errors: dict[str, str]) -> dict[str, Any]:
    """Read what a weekly template and an extra session share from the form; note each problem."""
    form = request.form
    clinician = db.session.get(Clinician, _int_arg("clinician_id") or 0)
    if clinician is None or clinician.hospital_id != account.hospital_id:
        errors["clinician_id"] = _("Choose a clinician.")
    try:
        fee_class = FeeClass(form.get("fee_class", ""))
    except ValueError:
        errors["fee_class"] = _("Choose one of the options.")
        fee_class = FeeClass.GENERAL
    return {
        "department_id": clinician.department_id if clinician else None,
        "clinician_id": clinician.id if clinician else None,
        "start_time": _parse_time(form.get("start_time"), "start_time", errors),
        "end_time": _parse_time(form.get("end_time"), "end_time", errors),
        "slot_minutes": _parse_int(form.get("slot_minutes"), "slot_minutes", errors, 5, 240),
        "capacity": _parse_int(form.get("capacity"), "capacity", errors, 1, 500),
        "fee_class": fee_class,
        "fee_fen": _parse_int(form.get("fee_yuan"), "fee_yuan", errors, 0, 100_000) * 100,
    }


@bp.get("/admin/schedule")
@sign_in_page_required
@require_roles(Role.ADMIN)
def schedule_editor() -> Page:
    return _schedule_page()


@bp.post("/admin/schedule/templates")
@sign_in_page_required
@require_roles(Role.ADMIN)
def add_template() -> Page:
    account = signed_in_account()
    form = request.form
    errors: dict[str, str] = {}
    values = {
        **_session_values(account, errors),
        "weekday": _parse_int(form.get("weekday"), "weekday", errors, 0, 6),
        "booking_opens_days": _parse_int(
            form.get("booking_opens_days"), "booking_opens_days", errors, 0, 90
        ),
        "release_time": _parse_time(form.get("release_time"), "release_time", errors),
        "valid_from": _parse_date(form.get("valid_from"), "valid_from", errors),
    }
    if errors:
        return _schedule_page(error=CHECK_THE_FIELDS, errors=errors, status=422)
    try:
        service.create_template(account, account.hospital_id, values, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        return _schedule_page(error=exc.message, status=exc.status)
    flash(_("The weekly session was added. Its slots appear when they are released."), "success")
    return redirect(url_for("scheduling_pages.schedule_editor"))


@bp.post("/admin/schedule/templates/<int:template_id>/active")
@sign_in_page_required
@require_roles(Role.ADMIN)
def toggle_template(template_id: int) -> Page:
    try:
        service.update_template(
            signed_in_account(),
            template_id,
            {"is_active": request.form.get("active") == "1"},
            now=utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _schedule_page(error=exc.message, status=exc.status)
    flash(_("Saved."), "success")
    return redirect(url_for("scheduling_pages.schedule_editor"))


@bp.post("/admin/schedule/exceptions")
@sign_in_page_required
@require_roles(Role.ADMIN)
def add_exception() -> Page:
    account = signed_in_account()
    form = request.form
    errors: dict[str, str] = {}
    try:
        kind = ExceptionKind(form.get("kind", ""))
    except ValueError:
        errors["kind"] = _("Choose one of the options.")
        kind = ExceptionKind.HOLIDAY
    first = _parse_date(form.get("first_date"), "first_date", errors)
    last = _parse_date(form.get("last_date") or form.get("first_date"), "last_date", errors)
    reason = form.get("reason", "").strip()[:200]
    if not reason:
        errors["reason"] = _("Give a reason; patients whose appointments are cancelled see it.")
    if errors:
        return _schedule_page(error=CHECK_THE_FIELDS, errors=errors, status=422)
    try:
        _exception, cancelled = service.add_exception(
            account,
            account.hospital_id,
            kind=kind,
            clinician_id=_int_arg("clinician_id"),
            first_date=first,
            last_date=last,
            reason=reason,
            now=utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _schedule_page(error=exc.message, status=exc.status)
    flash(
        _("Saved. %(n)d appointments were cancelled and their patients told.", n=cancelled),
        "success",
    )
    return redirect(url_for("scheduling_pages.schedule_editor"))


# ---- admin: ad-hoc extra sessions ---------------------------------------------------------------


def _extra_sessions_page(*, error: Any = None, errors: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    clinicians = _clinicians(account.hospital_id, active_only=True)
    upcoming = db.session.scalars(
        sa.select(ClinicSession)
        .where(
            ClinicSession.hospital_id == account.hospital_id,
            ClinicSession.template_id.is_(None),
            ClinicSession.local_date >= _today(account.hospital_id),
        )
        .order_by(ClinicSession.local_date, ClinicSession.starts_at)
        .limit(100)
    ).all()
    page = render_template(
        "scheduling/extra_sessions.html",
        clinicians={c.id: c for c in clinicians},
        departments=_departments_by_id(account.hospital_id),
        sessions=upcoming,
        values=request.form if request.method == "POST" else {},
        error=error,
        errors=errors or {},
        **_common(),
    )
    return (page, status) if status != 200 else page


@bp.get("/admin/schedule/extra-sessions")
@sign_in_page_required
@require_roles(Role.ADMIN)
def extra_sessions() -> Page:
    return _extra_sessions_page()


@bp.post("/admin/schedule/extra-sessions")
@sign_in_page_required
@require_roles(Role.ADMIN)
def add_extra_session() -> Page:
    account = signed_in_account()
    errors: dict[str, str] = {}
    values = _session_values(account, errors)
    local_date = _parse_date(request.form.get("local_date"), "local_date", errors)
    # The service refuses a past date too; here it becomes a message beside the field.
    if local_date is not None and local_date < _today(account.hospital_id):
        errors["local_date"] = _("Choose today or a later day.")
    if errors or local_date is None:
        return _extra_sessions_page(error=CHECK_THE_FIELDS, errors=errors, status=422)
    try:
        session = service.add_extra_session(
            account, account.hospital_id, values, local_date=local_date, now=utcnow()
        )
    except DomainError as exc:
        db.session.rollback()
        return _extra_sessions_page(error=exc.message, status=exc.status)
    flash(
        _(
            "The extra session on %(date)s was added with its slots.",
            date=session.local_date.isoformat(),
        ),
        "success",
    )
    return redirect(url_for("scheduling_pages.extra_sessions"))


# ---- staff: booking suspensions after no-shows --------------------------------------------------


def _suspensions_page(*, error: Any = None, status: int = 200) -> Page:
    rows = service.active_suspensions(signed_in_account(), now=utcnow())
    page = render_template(
        "scheduling/suspensions.html",
        suspensions=rows,
        error=error,
        error_patient_id=_int_arg("patient_id") if error else None,
        **_common(),
    )
    return (page, status) if status != 200 else page


@bp.get("/staff/suspensions")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.ADMIN)
def suspensions() -> Page:
    return _suspensions_page()


@bp.post("/staff/suspensions/lift")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.ADMIN)
def lift_suspension() -> Page:
    patient_id = _int_arg("patient_id")
    try:
        if patient_id is None:
            raise InvalidInput(_l("Choose a patient."), code="patient_required")
        service.lift_suspension(
            signed_in_account(),
            patient_id,
            reason=request.form.get("reason", "").strip()[:200],
            now=utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        return _suspensions_page(error=exc.message, status=exc.status)
    patient = db.session.get(Patient, patient_id)
    flash(
        _("%(name)s may book online again.", name=patient.name if patient else ""),
        "success",
    )
    return redirect(url_for("scheduling_pages.suspensions"))
