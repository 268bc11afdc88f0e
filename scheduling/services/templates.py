"""Weekly session templates, holidays and leave, one-off extra sessions, cancelled sessions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital import zones
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, NotFound
from hospital.organisation.models import Clinician, Department, ServicePoint
from scheduling.models import (
    Appointment,
    AppointmentState,
    ClinicSession,
    ExceptionKind,
    FeeClass,
    ScheduleException,
    SessionStatus,
    SessionTemplate,
)
from scheduling.services import offers
from scheduling.services.materialise import _insert_slots, _session_row
from scheduling.services.places import _end_appointment
from scheduling.services.rules import SCHEDULE_ROLES, _require_roles, hospital_zone

TEMPLATE_FIELDS = (
    "department_id",
    "clinician_id",
    "service_point_id",
    "weekday",
    "start_time",
    "end_time",
    "slot_minutes",
    "capacity",
    "fee_class",
    "fee_fen",
    "booking_opens_days",
    "release_time",
    "booking_closes_minutes",
    "checkin_opens_minutes",
    "checkin_closes_minutes",
    "valid_from",
    "valid_until",
    "is_active",
)


def _check_provider(hospital_id: int, values: dict[str, Any]) -> None:
    department = db.session.get(Department, values.get("department_id"))
    if department is None or department.hospital_id != hospital_id:
        raise InvalidInput(
            _l("Choose a department of this hospital."), code=ErrorCode.UNKNOWN_DEPARTMENT
        )
    clinician_id = values.get("clinician_id")
    point_id = values.get("service_point_id")
    if clinician_id is None and point_id is None:
        raise InvalidInput(
            _l("Choose a clinician or a service point for the session."), code=ErrorCode.NO_PROVIDER
        )
    if clinician_id is not None:
        clinician = db.session.get(Clinician, clinician_id)
        if clinician is None or clinician.hospital_id != hospital_id:
            raise InvalidInput(
                _l("Choose a clinician of this hospital."), code=ErrorCode.UNKNOWN_CLINICIAN
            )
        if clinician.department_id != department.id:
            raise InvalidInput(
                _l("The clinician does not work in the chosen department."),
                code=ErrorCode.CLINICIAN_DEPARTMENT_MISMATCH,
            )
    if point_id is not None:
        point = db.session.get(ServicePoint, point_id)
        if point is None or point.hospital_id != hospital_id:
            raise InvalidInput(
                _l("Choose a service point of this hospital."), code=ErrorCode.UNKNOWN_SERVICE_POINT
            )


def _check_template_times(values: dict[str, Any]) -> None:
    if values["start_time"] >= values["end_time"]:
        raise InvalidInput(
            _l("The session must end after it starts."), code=ErrorCode.SESSION_TIMES
        )
    start = datetime.combine(date(2000, 1, 1), values["start_time"])
    end = datetime.combine(date(2000, 1, 1), values["end_time"])
    if (end - start) < timedelta(minutes=values["slot_minutes"]):
        raise InvalidInput(
            _l("The session is shorter than one slot. Lengthen it or shorten the slots."),
            code=ErrorCode.SESSION_SHORTER_THAN_SLOT,
        )
    until = values.get("valid_until")
    if until is not None and until < values["valid_from"]:
        raise InvalidInput(
            _l("The last valid day must not be before the first."), code=ErrorCode.VALIDITY_DATES
        )


# What a session template (or a one-off extra session) has unless the admin says otherwise.
TEMPLATE_DEFAULTS: dict[str, Any] = {
    "clinician_id": None,
    "service_point_id": None,
    "slot_minutes": 15,
    "capacity": 1,
    "fee_class": FeeClass.GENERAL,
    "fee_fen": 0,
    "booking_opens_days": 14,
    "release_time": time(7),
    "booking_closes_minutes": 30,
    "checkin_opens_minutes": 60,
    "checkin_closes_minutes": 15,
}


def create_template(
    hospital_id: int, values: dict[str, Any], *, actor: Account, now: datetime
) -> SessionTemplate:
    """Add a weekly session template."""
    _require_roles(hospital_id, SCHEDULE_ROLES, actor=actor)
    defaults = {**TEMPLATE_DEFAULTS, "valid_until": None, "is_active": True}
    merged = {**defaults, **values}
    _check_provider(hospital_id, merged)
    _check_template_times(merged)
    template = SessionTemplate(
        hospital_id=hospital_id, created_at=now, **{k: merged[k] for k in TEMPLATE_FIELDS}
    )
    db.session.add(template)
    db.session.flush()
    record(
        action="scheduling.template_created",
        actor=actor,
        object_type="session_template",
        object_id=str(template.id),
    )
    return template


def update_template(
    template_id: int, values: dict[str, Any], *, actor: Account, now: datetime
) -> SessionTemplate:
    """Change a template; sessions already materialised keep their times and bookings."""
    template = db.session.get(SessionTemplate, template_id)
    if template is None or template.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such session template."), code=ErrorCode.TEMPLATE_NOT_FOUND)
    _require_roles(template.hospital_id, SCHEDULE_ROLES, actor=actor)
    merged = {k: getattr(template, k) for k in TEMPLATE_FIELDS} | values
    _check_provider(template.hospital_id, merged)
    _check_template_times(merged)
    for key, value in values.items():
        setattr(template, key, value)
    db.session.flush()
    record(
        action="scheduling.template_changed",
        actor=actor,
        object_type="session_template",
        object_id=str(template.id),
        detail={k: str(v) for k, v in values.items()},
    )
    return template


def add_exception(
    hospital_id: int,
    *,
    actor: Account,
    kind: ExceptionKind,
    first_date: date,
    last_date: date,
    reason: str,
    clinician_id: int | None = None,
    department_id: int | None = None,
    now: datetime,
) -> tuple[ScheduleException, int]:
    """Record a holiday or leave; cancel the sessions it covers. Returns (exception, cancelled)."""
    _require_roles(hospital_id, SCHEDULE_ROLES, actor=actor)
    if first_date > last_date:
        raise InvalidInput(
            _l("The last day must not be before the first."), code=ErrorCode.EXCEPTION_DATES
        )
    if kind is ExceptionKind.LEAVE and clinician_id is None:
        raise InvalidInput(_l("Leave needs a clinician."), code=ErrorCode.LEAVE_NEEDS_CLINICIAN)
    if clinician_id is not None:
        clinician = db.session.get(Clinician, clinician_id)
        if clinician is None or clinician.hospital_id != hospital_id:
            raise InvalidInput(
                _l("Choose a clinician of this hospital."), code=ErrorCode.UNKNOWN_CLINICIAN
            )
    if department_id is not None:
        department = db.session.get(Department, department_id)
        if department is None or department.hospital_id != hospital_id:
            raise InvalidInput(
                _l("Choose a department of this hospital."), code=ErrorCode.UNKNOWN_DEPARTMENT
            )
    exception = ScheduleException(
        hospital_id=hospital_id,
        kind=kind,
        clinician_id=clinician_id,
        department_id=department_id,
        first_date=first_date,
        last_date=last_date,
        reason=reason,
        created_by_account_id=actor.id,
        created_at=now,
    )
    db.session.add(exception)
    db.session.flush()
    query = sa.select(ClinicSession.id).where(
        ClinicSession.hospital_id == hospital_id,
        ClinicSession.local_date.between(first_date, last_date),
        ClinicSession.status == SessionStatus.OPEN,
    )
    if clinician_id is not None:
        query = query.where(ClinicSession.clinician_id == clinician_id)
    if department_id is not None:
        query = query.where(ClinicSession.department_id == department_id)
    cancelled = 0
    for session_id in db.session.scalars(query).all():
        cancelled += cancel_session(session_id, actor=actor, reason=reason, now=now)
    record(
        action="scheduling.exception_added",
        actor=actor,
        object_type="schedule_exception",
        object_id=str(exception.id),
        detail={"kind": kind.value, "cancelled_appointments": cancelled},
    )
    return exception, cancelled


def add_extra_session(
    hospital_id: int, values: dict[str, Any], *, actor: Account, local_date: date, now: datetime
) -> ClinicSession:
    """Add a one-off session on a date (an ad-hoc extra clinic) with its slots."""
    _require_roles(hospital_id, SCHEDULE_ROLES, actor=actor)
    if local_date < zones.local_date(now, hospital_zone(hospital_id)):
        raise InvalidInput(
            _l("An extra session cannot be in the past. Pick today or a later date."),
            code=ErrorCode.SESSION_IN_PAST,
        )
    values = TEMPLATE_DEFAULTS | values
    if values.get("service_point_id") is None:
        # A session always has a room: the clinician's usual one, or the admin must choose.
        from scheduling.services.queries import usual_room

        values["service_point_id"] = usual_room(hospital_id, values.get("clinician_id"))
        if values["service_point_id"] is None:
            raise InvalidInput(
                _l("Choose a room for the session: this doctor has no usual room yet."),
                code=ErrorCode.SESSION_WITHOUT_ROOM,
            )
    template_like = SessionTemplate(
        hospital_id=hospital_id,
        weekday=local_date.weekday(),
        valid_from=local_date,
        **values,
    )
    merged = {k: getattr(template_like, k) for k in TEMPLATE_FIELDS}
    _check_provider(hospital_id, merged)
    _check_template_times(merged)
    zone = hospital_zone(hospital_id)
    row = _session_row(template_like, local_date, zone, now=now)
    row["template_id"] = None
    session = ClinicSession(**row)
    db.session.add(session)
    db.session.flush()
    _insert_slots([(session.id, template_like, local_date)], hospital_id, zone)
    record(
        action="scheduling.extra_session_added",
        actor=actor,
        object_type="clinic_session",
        object_id=str(session.id),
    )
    # Its places go to the waitlist first.
    offers.offer_free_places(session.id, reason="extra_session", now=now)
    return session


def cancel_session(session_id: int, *, actor: Account | None, reason: str, now: datetime) -> int:
    """Cancel a dated session and every appointment in it (notified, refunded in full)."""
    session = db.session.get(ClinicSession, session_id)
    if session is None or (actor is not None and session.hospital_id != actor.hospital_id):
        raise NotFound(_l("No such session."), code=ErrorCode.SESSION_NOT_FOUND)
    if actor is not None:
        _require_roles(session.hospital_id, SCHEDULE_ROLES, actor=actor)
    if not reason.strip():
        raise InvalidInput(
            _l("Give a reason for cancelling the session."), code=ErrorCode.REASON_REQUIRED
        )
    changed = execute_dml(
        sa.update(ClinicSession)
        .where(ClinicSession.id == session_id, ClinicSession.status == SessionStatus.OPEN)
        .values(status=SessionStatus.CANCELLED, cancel_reason=reason[:200])
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        return 0
    appointment_ids = db.session.scalars(
        sa.select(Appointment.id).where(
            Appointment.session_id == session_id,
            Appointment.state.in_((AppointmentState.HELD, AppointmentState.BOOKED)),
        )
    ).all()
    cancelled = 0
    for appointment_id in appointment_ids:
        if _end_appointment(
            appointment_id,
            to_state=AppointmentState.CANCELLED,
            from_states=(AppointmentState.HELD, AppointmentState.BOOKED),
            reason="hospital_cancelled",
            refund="full",
            actor=actor,
            note=reason,
            now=now,
        ):
            cancelled += 1
    db.session.expire(session)
    return cancelled
