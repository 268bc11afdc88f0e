"""REST endpoints for availability, appointments and schedules (/api/v1/scheduling)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import Schema

from hospital import zones
from hospital.accounts.guards import public, require_roles, require_signed_in, signed_in_account
from hospital.accounts.models import Role
from hospital.audit.service import record_staff_read
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.idempotency import idempotent
from hospital.organisation.lookup import current_hospital
from hospital.web.api_docs import file_response
from scheduling.calendar import appointment_ics
from scheduling.models import ClinicSession, ExceptionKind, FeeClass, ScheduleException, TimeBand
from scheduling.models import SessionTemplate as Template
from scheduling.schemas import (
    AddOnArgs,
    AppointmentCancelArgs,
    AppointmentOut,
    AvailabilityQueryArgs,
    AvailableSessionOut,
    AvailableSlotOut,
    BackfillStatsOut,
    BackfillStatsQueryArgs,
    BookingRulesArgs,
    BookingRulesOut,
    ClinicSessionOut,
    DayListQueryArgs,
    ExtraSessionArgs,
    HoldArgs,
    LiftSuspensionArgs,
    RescheduleArgs,
    ScheduleExceptionArgs,
    ScheduleExceptionOut,
    SessionAvailabilityQueryArgs,
    SessionCancelArgs,
    SessionTemplateArgs,
    SessionTemplateOut,
    SessionTemplateUpdateArgs,
    StaffAppointmentOut,
    WaitlistDemandOut,
    WaitlistEntryOut,
    WaitlistJoinArgs,
    WaitlistOfferOut,
)
from scheduling.services import (
    attendance,
    booking,
    changes,
    offers,
    queries,
    rules,
    templates,
    waitlist,
    waitlist_stats,
)
from scheduling.services import availability as scheduling_availability

blp = Blueprint(
    "scheduling",
    __name__,
    description="Free times, appointments (hold, confirm, cancel, reschedule) and schedules.",
)

# ---- patients -----------------------------------------------------------------------------


def _search_terms(args: dict[str, Any]) -> dict[str, Any]:
    """What both availability searches take: the dates, a department or clinician, a fee class."""
    fee_class = args.get("fee_class")
    return {
        "first_date": args["date_from"],
        "last_date": args["date_to"],
        "department_id": args.get("department_id"),
        "clinician_id": args.get("clinician_id"),
        "fee_class": FeeClass(fee_class) if fee_class else None,
    }


@blp.route("/availability", methods=["GET"])
@public("free times of the timetable; no patient data")
@blp.arguments(AvailabilityQueryArgs, location="query")
@blp.response(200, AvailableSlotOut(many=True))
def availability(args: dict[str, Any]) -> list[scheduling_availability.AvailableSlot]:
    """Search free times by department or clinician, date range and fee class."""
    return scheduling_availability.search_availability(
        current_hospital().id,
        **_search_terms(args),
        only_bookable=args["only_bookable"],
        now=utcnow(),
    )


@blp.route("/availability/sessions", methods=["GET"])
@public("free places per session; no patient data")
@blp.arguments(SessionAvailabilityQueryArgs, location="query")
@blp.response(200, AvailableSessionOut(many=True))
def session_availability(args: dict[str, Any]) -> list[scheduling_availability.AvailableSession]:
    """Which clinician has places on which day: sessions with their remaining places."""
    return scheduling_availability.search_sessions(
        current_hospital().id, **_search_terms(args), now=utcnow()
    )


@blp.route("/appointments", methods=["POST"])
@require_signed_in
@idempotent
@blp.arguments(HoldArgs())  # an instance: webargs would build a schema per request from a class
@blp.response(201, AppointmentOut)
@blp.alt_response(409, description="The slot was just taken, or a booking limit was reached.")
def hold(args: dict[str, Any]) -> Any:
    """Hold a slot for yourself or a family member you may book for.

    Accepts an `Idempotency-Key` header: the same key and body return the stored response,
    the same key with another body is refused (422), and one still in flight gets 409.
    """
    return booking.hold(
        actor=signed_in_account(),
        patient_id=args["patient_id"],
        slot_id=args["slot_id"],
        now=utcnow(),
    )


@blp.route("/appointments", methods=["GET"])
@require_signed_in
@blp.response(200, AppointmentOut(many=True))
def my_appointments() -> Any:
    """List your appointments and those of the family members you act for."""
    return queries.appointments_for_account(actor=signed_in_account(), now=utcnow())


@blp.route("/appointments/<int:appointment_id>", methods=["GET"])
@require_signed_in
@blp.response(200, AppointmentOut)
def get_appointment(appointment_id: int) -> Any:
    """Show one appointment (a staff read is audited)."""
    account = signed_in_account()
    appointment = queries.get_appointment(appointment_id, actor=account)
    record_staff_read(
        actor=account,
        action="appointment.read",
        object_type="appointment",
        reads=[(appointment.id, appointment.patient_id)],
    )
    return appointment


@blp.route("/appointments/<int:appointment_id>/confirm", methods=["POST"])
@require_signed_in
@idempotent
@blp.response(200, AppointmentOut)
def confirm(appointment_id: int) -> Any:
    """Confirm a held appointment (books it).

    Accepts an `Idempotency-Key` header: the same key and body return the stored response,
    the same key with another body is refused (422), and one still in flight gets 409.
    """
    return booking.confirm(appointment_id, actor=signed_in_account(), now=utcnow())


@blp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@require_signed_in
@idempotent
@blp.arguments(AppointmentCancelArgs)
@blp.response(200, AppointmentOut)
def cancel(args: dict[str, Any], appointment_id: int) -> Any:
    """Cancel an appointment: patients until the cut-off, desk staff at any time with a reason.

    Accepts an `Idempotency-Key` header: the same key and body return the stored response,
    the same key with another body is refused (422), and one still in flight gets 409.
    """
    return changes.cancel(
        appointment_id, actor=signed_in_account(), now=utcnow(), reason=args["reason"]
    )


@blp.route("/appointments/<int:appointment_id>/reschedule", methods=["POST"])
@require_signed_in
@idempotent
@blp.arguments(RescheduleArgs)
@blp.response(200, AppointmentOut)
def reschedule(args: dict[str, Any], appointment_id: int) -> Any:
    """Move a booking to another slot with the same fee, keeping its payment.

    Accepts an `Idempotency-Key` header: the same key and body return the stored response,
    the same key with another body is refused (422), and one still in flight gets 409.
    """
    return changes.reschedule(
        appointment_id, actor=signed_in_account(), new_slot_id=args["slot_id"], now=utcnow()
    )


@blp.route("/appointments/<int:appointment_id>/calendar.ics", methods=["GET"])
@require_signed_in
@blp.response(200, content_type="text/calendar")
@blp.doc(**file_response("The appointment as an iCalendar file.", "text/calendar"))
def calendar_file(appointment_id: int) -> Response:
    """Download the appointment for a calendar (a cancelled one as a cancellation)."""
    account = signed_in_account()
    appointment = queries.get_appointment(appointment_id, actor=account)
    record_staff_read(
        actor=account,
        action="appointment.read",
        object_type="appointment",
        reads=[(appointment.id, appointment.patient_id)],
    )
    entry = queries.calendar_entry(
        appointment_id, actor=account, now=utcnow(), language=get_locale().language
    )
    return Response(
        appointment_ics(entry),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="appointment-{appointment_id}.ics"'},
    )


# ---- clinic staff -------------------------------------------------------------------------


@blp.route("/day", methods=["GET"])
@require_roles(Role.REGISTRAR, Role.NURSE, Role.CLINICIAN, Role.ADMIN)
@blp.arguments(DayListQueryArgs, location="query")
@blp.response(200, StaffAppointmentOut(many=True))
def day_list(args: dict[str, Any]) -> Any:
    """A clinician's appointments on one day (booked, checked in, no-shows, cancelled); audited."""
    account = signed_in_account()
    appointments = queries.day_list(
        actor=account, clinician_id=args["clinician_id"], local_date=args["date"]
    )
    record_staff_read(
        actor=account,
        action="appointment.day_list.read",
        object_type="appointment",
        reads=[(a.id, a.patient_id) for a in appointments],
        detail={"clinician_id": args["clinician_id"], "date": args["date"].isoformat()},
    )
    return appointments


@blp.route("/add-ons", methods=["POST"])
@require_roles(Role.REGISTRAR, Role.CLINICIAN, Role.ADMIN)
@idempotent
@blp.arguments(AddOnArgs)
@blp.response(201, StaffAppointmentOut)
def add_on(args: dict[str, Any]) -> Any:
    """Add an appointment beyond a slot's capacity ("加号"), with a reason (audited)."""
    return changes.add_on(actor=signed_in_account(), **args, now=utcnow())


@blp.route("/appointments/<int:appointment_id>/check-in", methods=["POST"])
@require_roles(Role.REGISTRAR, Role.NURSE, Role.ADMIN)
@blp.response(200, StaffAppointmentOut)
def check_in(appointment_id: int) -> Any:
    """Mark a patient as arrived for their appointment."""
    return changes.check_in(appointment_id, actor=signed_in_account(), now=utcnow())


@blp.route("/suspensions/lift", methods=["POST"])
@require_roles(Role.REGISTRAR, Role.ADMIN)
@blp.arguments(LiftSuspensionArgs)
@blp.response(204)
def lift_suspension(args: dict[str, Any]) -> None:
    """Let a patient suspended for no-shows book online again."""
    attendance.lift_suspension(
        args["patient_id"], actor=signed_in_account(), reason=args["reason"], now=utcnow()
    )


# ---- schedules (admin) --------------------------------------------------------------------


@blp.route("/templates", methods=["GET"])
@require_roles(Role.ADMIN, Role.REGISTRAR)
@blp.response(200, SessionTemplateOut(many=True))
def list_templates() -> Any:
    """List the weekly session templates."""
    return queries.list_templates(actor=signed_in_account())


@blp.route("/templates", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(SessionTemplateArgs)
@blp.response(201, SessionTemplateOut)
def create_template(args: dict[str, Any]) -> Template:
    """Add a weekly session in the hospital's local time."""
    account = signed_in_account()
    args["fee_class"] = FeeClass(args["fee_class"])
    return templates.create_template(account.hospital_id, args, actor=account, now=utcnow())


@blp.route("/templates/<int:template_id>", methods=["PATCH"])
@require_roles(Role.ADMIN)
@blp.arguments(SessionTemplateUpdateArgs)
@blp.response(200, SessionTemplateOut)
def update_template(args: dict[str, Any], template_id: int) -> Template:
    """Change a template (sessions already released keep their times and bookings)."""
    if "fee_class" in args:
        args["fee_class"] = FeeClass(args["fee_class"])
    return templates.update_template(template_id, args, actor=signed_in_account(), now=utcnow())


@blp.route("/exceptions", methods=["GET"])
@require_roles(Role.ADMIN, Role.REGISTRAR)
@blp.response(200, ScheduleExceptionOut(many=True))
def list_exceptions() -> Any:
    """List holidays and leave from today on."""
    return queries.list_exceptions(actor=signed_in_account(), now=utcnow())


@blp.route("/exceptions", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(ScheduleExceptionArgs)
@blp.response(201, ScheduleExceptionOut)
def add_exception(args: dict[str, Any]) -> ScheduleException:
    """Enter a holiday or leave; sessions it covers are cancelled and their patients told."""
    account = signed_in_account()
    args["kind"] = ExceptionKind(args["kind"])
    exception, cancelled = templates.add_exception(
        account.hospital_id, actor=account, **args, now=utcnow()
    )
    exception.cancelled_appointments = cancelled  # type: ignore[attr-defined]
    return exception


@blp.route("/sessions", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(ExtraSessionArgs)
@blp.response(201, ClinicSessionOut)
def add_extra_session(args: dict[str, Any]) -> ClinicSession:
    """Add a one-off extra session on a date."""
    account = signed_in_account()
    local_date = args.pop("local_date")
    args["fee_class"] = FeeClass(args["fee_class"])
    return templates.add_extra_session(
        account.hospital_id, args, actor=account, local_date=local_date, now=utcnow()
    )


@blp.route("/sessions/<int:session_id>/cancel", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(SessionCancelArgs)
@blp.response(200, ClinicSessionOut)
def cancel_session(args: dict[str, Any], session_id: int) -> ClinicSession:
    """Cancel a session: its appointments are cancelled, refunded in full and notified."""
    account = signed_in_account()
    templates.cancel_session(session_id, actor=account, reason=args["reason"], now=utcnow())
    session = db.session.get(ClinicSession, session_id)
    if session is None:
        raise NotFound(_l("No such session."), code=ErrorCode.SESSION_NOT_FOUND)
    return session


@blp.route("/rules", methods=["GET"])
@require_roles(Role.ADMIN, Role.REGISTRAR)
@blp.response(200, BookingRulesOut)
def get_rules() -> rules.Rules:
    """Show the hospital's booking rules."""
    return rules.rules_for(signed_in_account().hospital_id)


@blp.route("/rules", methods=["PATCH"])
@require_roles(Role.ADMIN)
@blp.arguments(BookingRulesArgs)
@blp.response(200, BookingRulesOut)
def set_rules(args: dict[str, Any]) -> rules.Rules:
    """Change the hospital's booking rules."""
    account = signed_in_account()
    return rules.set_rules(account.hospital_id, args, actor=account, now=utcnow())


# ---- the waitlist (候补) ---------------------------------------------------------------------


@blp.route("/waitlist", methods=["POST"])
@require_signed_in
@blp.arguments(WaitlistJoinArgs)
@blp.response(201, WaitlistEntryOut)
@blp.alt_response(409, description="Places are free, already booked or on it, or too many entries.")
def join_waitlist(args: dict[str, Any]) -> Any:
    """Wait for a sold-out session, or a clinician's or department's dates (候补).

    Freed places are offered in the order patients joined, as a hold with a claim window.
    """
    now = utcnow()
    fee_class = args.pop("fee_class", None)
    entry = waitlist.join(
        actor=signed_in_account(),
        now=now,
        band=TimeBand(args.pop("band")),
        fee_class=FeeClass(fee_class) if fee_class else None,
        **args,
    )
    return waitlist.view_of(entry, now=now)


@blp.route("/waitlist", methods=["GET"])
@require_signed_in
@blp.response(200, WaitlistEntryOut(many=True))
def my_waitlist() -> Any:
    """Your waitlist entries and your family's, with places in line and offers out."""
    return waitlist.entries_for_account(actor=signed_in_account(), now=utcnow())


@blp.route("/waitlist/<int:entry_id>", methods=["DELETE"])
@require_signed_in
@blp.response(200, WaitlistEntryOut)
def leave_waitlist(entry_id: int) -> Any:
    """Leave a waitlist (an offer already out stays yours to answer)."""
    now = utcnow()
    return waitlist.view_of(waitlist.leave(entry_id, actor=signed_in_account(), now=now), now=now)


@blp.route("/waitlist/offers/<int:offer_id>", methods=["GET"])
@require_signed_in
@blp.response(200, WaitlistOfferOut)
def get_offer(offer_id: int) -> Any:
    """Show an offer made to you or a family member."""
    return offers.get_offer(offer_id, actor=signed_in_account(), now=utcnow())


View = Callable[..., Any]


def _answer_to_offer(verb: str, answer_out: type[Schema]) -> Callable[[View], View]:
    """Route POST /waitlist/offers/<id>/<verb>: signed in, 409 once answered or lapsed."""

    def routed(view: View) -> View:
        view = blp.alt_response(409, description="The offer was answered or has lapsed.")(view)
        view = blp.response(200, answer_out)(view)
        view = require_signed_in(view)
        view = blp.route(f"/waitlist/offers/<int:offer_id>/{verb}", methods=["POST"])(view)
        return view

    return routed


@_answer_to_offer("accept", AppointmentOut)
def accept_offer(offer_id: int) -> Any:
    """Claim an offered place: a free one is booked; a fee-bearing one stays held until paid."""
    return offers.accept(offer_id, actor=signed_in_account(), now=utcnow())


@_answer_to_offer("decline", WaitlistOfferOut)
def decline_offer(offer_id: int) -> Any:
    """Turn an offer down: the place goes to the next waiter, you stay on the list."""
    return offers.decline(offer_id, actor=signed_in_account(), now=utcnow())


@blp.route("/waitlist/demand", methods=["GET"])
@require_roles(Role.REGISTRAR, Role.ADMIN)
@blp.response(200, WaitlistDemandOut(many=True))
def waitlist_demand() -> Any:
    """Waitlist length per clinician over the next 14 days (the signal to open a session)."""
    return waitlist.demand_by_clinician(actor=signed_in_account(), now=utcnow())


@blp.route("/waitlist/statistics", methods=["GET"])
@require_roles(Role.REGISTRAR, Role.ADMIN)
@blp.arguments(BackfillStatsQueryArgs, location="query")
@blp.response(200, BackfillStatsOut)
def waitlist_statistics(args: dict[str, Any]) -> Any:
    """Freed places, the share re-booked from the waitlist, offers and no-show rates."""
    hospital_id = signed_in_account().hospital_id
    zone = rules.hospital_zone(hospital_id)
    since, _ = zones.day_bounds(args["date_from"], zone)
    _, until = zones.day_bounds(args["date_to"], zone)
    return waitlist_stats.statistics(hospital_id=hospital_id, since=since, until=until)
