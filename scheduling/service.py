"""Schedules, slots and appointments: the only writer of the scheduling tables.

Capacity is taken and given back with one conditional UPDATE on the slot's counter, so two
requests can never both take the last place; the CHECK constraint on `slot` guards it again.
An appointment leaves an occupying state through a conditional UPDATE on its own state, and only
the request whose UPDATE changed the row gives its place back: a place is released exactly once.
A hold whose `hold_expires_at` has passed counts as expired everywhere, job or no job.

Functions flush, never commit. When one raises, the caller's unit of work must roll back (the
request edge and `unit_of_work()` do), which also undoes a place already taken in that call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hospital import events
from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.db import UTCDateTime, db
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.access import Permission, require_patient_access, staff_grants
from hospital.patients.models import Patient
from scheduling import notices
from scheduling.calendar import CalendarEntry
from scheduling.models import (
    DEFAULT_RULES,
    Appointment,
    AppointmentState,
    BookingSuspension,
    ClinicSession,
    ExceptionKind,
    FeeClass,
    ScheduleException,
    SchedulingRules,
    SessionStatus,
    SessionTemplate,
    Slot,
)
from scheduling.slots import (
    WeeklySession,
    cancel_cutoff,
    local_date_of,
    release_instant,
    session_dates,
    slot_times,
    to_utc,
)

ACTIVE_STATES = (AppointmentState.HELD, AppointmentState.BOOKED, AppointmentState.CHECKED_IN)
SCHEDULE_ROLES = (Role.ADMIN,)
DESK_ROLES = (Role.REGISTRAR, Role.ADMIN)


# ---- rules and time zones -----------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    hold_minutes: int
    max_active_per_patient_per_day: int
    max_active_per_account_per_day: int
    cancel_cutoff_days_before: int
    cancel_cutoff_time: time
    no_show_strikes: int
    no_show_window_days: int
    suspension_days: int
    reschedule_limit: int


def rules_for(hospital_id: int) -> Rules:
    """The hospital's booking rules (the defaults when it has not set its own)."""
    row = db.session.get(SchedulingRules, hospital_id)
    if row is None:
        return Rules(**DEFAULT_RULES)
    return Rules(**{name: getattr(row, name) for name in DEFAULT_RULES})


def set_rules(actor: Account, hospital_id: int, values: dict[str, Any], *, now: datetime) -> Rules:
    """Change some of the hospital's booking rules."""
    _require_roles(actor, hospital_id, SCHEDULE_ROLES)
    row = db.session.get(SchedulingRules, hospital_id)
    if row is None:
        row = SchedulingRules(hospital_id=hospital_id, **DEFAULT_RULES)
        db.session.add(row)
    for name, value in values.items():
        if name not in DEFAULT_RULES:
            raise InvalidInput(_l("Unknown rule: %(name)s.", name=name), code="unknown_rule")
        setattr(row, name, value)
    db.session.flush()
    record(
        action="scheduling.rules_changed",
        actor=actor,
        object_type="scheduling_rules",
        object_id=str(hospital_id),
        detail={k: str(v) for k, v in values.items()},
    )
    return rules_for(hospital_id)


_zones: dict[str, ZoneInfo] = {}


def zone_of(hospital: Hospital) -> ZoneInfo:
    if hospital.timezone not in _zones:
        _zones[hospital.timezone] = ZoneInfo(hospital.timezone)
    return _zones[hospital.timezone]


def hospital_zone(hospital_id: int) -> ZoneInfo:
    hospital = db.session.get(Hospital, hospital_id)
    if hospital is None:
        raise NotFound(_l("No such hospital."), code="hospital_not_found")
    return zone_of(hospital)


def _require_roles(actor: Account, hospital_id: int, roles: Iterable[Role]) -> None:
    if actor.hospital_id != hospital_id or not actor.has_role(*roles):
        raise Forbidden(_l("Your account does not have the role this needs."), code="role_required")


def _is_desk_staff(actor: Account) -> bool:
    return actor.has_role(*DESK_ROLES)


# ---- schedules ----------------------------------------------------------------------------


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
        raise InvalidInput(_l("Choose a department of this hospital."), code="unknown_department")
    clinician_id = values.get("clinician_id")
    point_id = values.get("service_point_id")
    if clinician_id is None and point_id is None:
        raise InvalidInput(
            _l("Choose a clinician or a service point for the session."), code="no_provider"
        )
    if clinician_id is not None:
        clinician = db.session.get(Clinician, clinician_id)
        if clinician is None or clinician.hospital_id != hospital_id:
            raise InvalidInput(_l("Choose a clinician of this hospital."), code="unknown_clinician")
        if clinician.department_id != department.id:
            raise InvalidInput(
                _l("The clinician does not work in the chosen department."),
                code="clinician_department_mismatch",
            )
    if point_id is not None:
        point = db.session.get(ServicePoint, point_id)
        if point is None or point.hospital_id != hospital_id:
            raise InvalidInput(
                _l("Choose a service point of this hospital."), code="unknown_service_point"
            )


def _check_template_times(values: dict[str, Any]) -> None:
    if values["start_time"] >= values["end_time"]:
        raise InvalidInput(_l("The session must end after it starts."), code="session_times")
    start = datetime.combine(date(2000, 1, 1), values["start_time"])
    end = datetime.combine(date(2000, 1, 1), values["end_time"])
    if (end - start) < timedelta(minutes=values["slot_minutes"]):
        raise InvalidInput(
            _l("The session is shorter than one slot. Lengthen it or shorten the slots."),
            code="session_shorter_than_slot",
        )
    until = values.get("valid_until")
    if until is not None and until < values["valid_from"]:
        raise InvalidInput(
            _l("The last valid day must not be before the first."), code="validity_dates"
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
    actor: Account, hospital_id: int, values: dict[str, Any], *, now: datetime
) -> SessionTemplate:
    """Add a weekly session template."""
    _require_roles(actor, hospital_id, SCHEDULE_ROLES)
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
    actor: Account, template_id: int, values: dict[str, Any], *, now: datetime
) -> SessionTemplate:
    """Change a template; sessions already materialised keep their times and bookings."""
    template = db.session.get(SessionTemplate, template_id)
    if template is None or template.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such session template."), code="template_not_found")
    _require_roles(actor, template.hospital_id, SCHEDULE_ROLES)
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
    actor: Account,
    hospital_id: int,
    *,
    kind: ExceptionKind,
    first_date: date,
    last_date: date,
    reason: str,
    clinician_id: int | None = None,
    department_id: int | None = None,
    now: datetime,
) -> tuple[ScheduleException, int]:
    """Record a holiday or leave; cancel the sessions it covers. Returns (exception, cancelled)."""
    _require_roles(actor, hospital_id, SCHEDULE_ROLES)
    if first_date > last_date:
        raise InvalidInput(_l("The last day must not be before the first."), code="exception_dates")
    if kind is ExceptionKind.LEAVE and clinician_id is None:
        raise InvalidInput(_l("Leave needs a clinician."), code="leave_needs_clinician")
    if clinician_id is not None:
        clinician = db.session.get(Clinician, clinician_id)
        if clinician is None or clinician.hospital_id != hospital_id:
            raise InvalidInput(_l("Choose a clinician of this hospital."), code="unknown_clinician")
    if department_id is not None:
        department = db.session.get(Department, department_id)
        if department is None or department.hospital_id != hospital_id:
            raise InvalidInput(
                _l("Choose a department of this hospital."), code="unknown_department"
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
        cancelled += cancel_session(actor, session_id, reason=reason, now=now)
    record(
        action="scheduling.exception_added",
        actor=actor,
        object_type="schedule_exception",
        object_id=str(exception.id),
        detail={"kind": kind.value, "cancelled_appointments": cancelled},
    )
    return exception, cancelled


def add_extra_session(
    actor: Account,
    hospital_id: int,
    values: dict[str, Any],
    *,
    local_date: date,
    now: datetime,
) -> ClinicSession:
    """Add a one-off session on a date (an ad-hoc extra clinic) with its slots."""
    _require_roles(actor, hospital_id, SCHEDULE_ROLES)
    if local_date < now.astimezone(hospital_zone(hospital_id)).date():
        raise InvalidInput(
            _l("An extra session cannot be in the past. Pick today or a later date."),
            code="session_in_past",
        )
    template_like = SessionTemplate(
        hospital_id=hospital_id,
        weekday=local_date.weekday(),
        valid_from=local_date,
        **(TEMPLATE_DEFAULTS | values),
    )
    merged = {k: getattr(template_like, k) for k in TEMPLATE_FIELDS}
    _check_provider(hospital_id, merged)
    _check_template_times(merged)
    zone = hospital_zone(hospital_id)
    row = _session_row(template_like, local_date, zone, now)
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
    return session


def cancel_session(actor: Account | None, session_id: int, *, reason: str, now: datetime) -> int:
    """Cancel a dated session and every appointment in it (notified, refunded in full)."""
    session = db.session.get(ClinicSession, session_id)
    if session is None or (actor is not None and session.hospital_id != actor.hospital_id):
        raise NotFound(_l("No such session."), code="session_not_found")
    if actor is not None:
        _require_roles(actor, session.hospital_id, SCHEDULE_ROLES)
    if not reason.strip():
        raise InvalidInput(_l("Give a reason for cancelling the session."), code="reason_required")
    changed = db.session.execute(
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


# ---- materialising slots ------------------------------------------------------------------


def _weekly(template: SessionTemplate) -> WeeklySession:
    return WeeklySession(
        template.weekday,
        template.start_time,
        template.end_time,
        template.slot_minutes,
        template.valid_from,
        template.valid_until,
    )


def _session_row(
    template: SessionTemplate, day: date, zone: ZoneInfo, now: datetime
) -> dict[str, Any]:
    return {
        "hospital_id": template.hospital_id,
        "template_id": template.id,
        "department_id": template.department_id,
        "clinician_id": template.clinician_id,
        "service_point_id": template.service_point_id,
        "local_date": day,
        "start_time": template.start_time,
        "end_time": template.end_time,
        "starts_at": to_utc(day, template.start_time, zone),
        "ends_at": to_utc(day, template.end_time, zone),
        "fee_class": template.fee_class,
        "fee_fen": template.fee_fen,
        "release_at": release_instant(
            day, template.booking_opens_days, template.release_time, zone
        ),
        "booking_closes_minutes": template.booking_closes_minutes,
        "checkin_opens_minutes": template.checkin_opens_minutes,
        "checkin_closes_minutes": template.checkin_closes_minutes,
        "status": SessionStatus.OPEN,
        "cancel_reason": "",
        "created_at": now,
    }


def _insert_ignoring_duplicates(table: sa.Table, rows: list[dict[str, Any]], returning: Any = None):
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.values(rows).on_conflict_do_nothing()
    if returning is not None:
        statement = statement.returning(*returning)
    return db.session.execute(statement)


def _insert_slots(
    sessions: list[tuple[int, SessionTemplate, date]], hospital_id: int, zone: ZoneInfo
) -> int:
    rows = []
    for session_id, template, day in sessions:
        for times in slot_times(
            day, template.start_time, template.end_time, template.slot_minutes, zone
        ):
            rows.append(
                {
                    "hospital_id": hospital_id,
                    "session_id": session_id,
                    "starts_at": times.starts_at,
                    "ends_at": times.ends_at,
                    "local_date": day,
                    "closes_at": times.starts_at
                    - timedelta(minutes=template.booking_closes_minutes),
                    "capacity": template.capacity,
                    "booked": 0,
                    "addon_allowance": 0,
                }
            )
    inserted = 0
    for chunk in range(0, len(rows), 500):
        result = _insert_ignoring_duplicates(Slot.__table__, rows[chunk : chunk + 500])
        inserted += max(result.rowcount or 0, 0)
    return inserted


def _closed_on(exceptions: list[ScheduleException], template: SessionTemplate, day: date) -> bool:
    for exception in exceptions:
        if not (exception.first_date <= day <= exception.last_date):
            continue
        if exception.clinician_id is not None and exception.clinician_id != template.clinician_id:
            continue
        if (
            exception.department_id is not None
            and exception.department_id != template.department_id
        ):
            continue
        return True
    return False


def materialise_slots(*, now: datetime, hospital_id: int | None = None) -> int:
    """Create the sessions and slots of the booking horizon; idempotent, also across processes.

    Returns the number of sessions created. A session is created once per (template, date)
    by an insert that ignores duplicates; only the run that created a session creates its slots
    (with the same duplicate-ignoring insert), so two runs at once give the same slots.
    """
    query = sa.select(SessionTemplate, Hospital).join(
        Hospital, Hospital.id == SessionTemplate.hospital_id
    )
    query = query.where(SessionTemplate.is_active.is_(True))
    if hospital_id is not None:
        query = query.where(SessionTemplate.hospital_id == hospital_id)
    by_hospital: dict[int, list[SessionTemplate]] = {}
    hospitals: dict[int, Hospital] = {}
    for template, hospital in db.session.execute(query).all():
        by_hospital.setdefault(hospital.id, []).append(template)
        hospitals[hospital.id] = hospital
    created = 0
    for hid, templates in by_hospital.items():
        zone = zone_of(hospitals[hid])
        today = local_date_of(now, zone)
        horizon = today + timedelta(days=max(t.booking_opens_days for t in templates) + 1)
        exceptions = db.session.scalars(
            sa.select(ScheduleException).where(
                ScheduleException.hospital_id == hid,
                ScheduleException.last_date >= today,
                ScheduleException.first_date <= horizon,
            )
        ).all()
        rows = []
        by_key: dict[tuple[int, date], SessionTemplate] = {}
        for template in templates:
            last = today + timedelta(days=template.booking_opens_days + 1)
            for day in session_dates(_weekly(template), today, last):
                if _closed_on(list(exceptions), template, day):
                    continue
                rows.append(_session_row(template, day, zone, now))
                by_key[(template.id, day)] = template
        new_sessions: list[tuple[int, SessionTemplate, date]] = []
        for chunk in range(0, len(rows), 500):
            result = _insert_ignoring_duplicates(
                ClinicSession.__table__,
                rows[chunk : chunk + 500],
                returning=(
                    ClinicSession.__table__.c.id,
                    ClinicSession.__table__.c.template_id,
                    ClinicSession.__table__.c.local_date,
                ),
            )
            for session_id, template_id, day in result.all():
                new_sessions.append((session_id, by_key[(template_id, day)], day))
        _insert_slots(new_sessions, hid, zone)
        created += len(new_sessions)
    return created


# ---- availability -------------------------------------------------------------------------


@dataclass(frozen=True)
class AvailableSlot:
    slot_id: int
    session_id: int
    starts_at: datetime
    ends_at: datetime
    local_date: date
    clinician_id: int | None
    clinician_name_zh: str
    clinician_name_en: str
    department_id: int
    fee_class: FeeClass
    fee_fen: int
    capacity: int
    remaining: int
    release_at: datetime
    bookable: bool


def _lapsed_holds(now: datetime) -> Any:
    """Holds past their expiry not yet released by the job, counted per slot."""
    return (
        sa.select(Appointment.slot_id, sa.func.count().label("lapsed"))
        .where(Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at <= now)
        .group_by(Appointment.slot_id)
        .subquery()
    )


def _filtered(
    query: Any,
    *,
    department_id: int | None,
    clinician_id: int | None,
    fee_class: FeeClass | None,
) -> Any:
    if department_id is not None:
        query = query.where(ClinicSession.department_id == department_id)
    if clinician_id is not None:
        query = query.where(ClinicSession.clinician_id == clinician_id)
    if fee_class is not None:
        query = query.where(ClinicSession.fee_class == fee_class)
    return query


def _availability_query(
    hospital_id: int,
    *,
    first_date: date,
    last_date: date,
    department_id: int | None,
    clinician_id: int | None,
    fee_class: FeeClass | None,
    now: datetime,
) -> Any:
    lapsed = _lapsed_holds(now)
    query = (
        sa.select(
            Slot.id,
            Slot.session_id,
            Slot.starts_at,
            Slot.ends_at,
            Slot.local_date,
            Slot.capacity,
            Slot.booked,
            sa.func.coalesce(lapsed.c.lapsed, 0),
            ClinicSession.clinician_id,
            Clinician.name_zh,
            Clinician.name_en,
            ClinicSession.department_id,
            ClinicSession.fee_class,
            ClinicSession.fee_fen,
            ClinicSession.release_at,
        )
        .join(ClinicSession, ClinicSession.id == Slot.session_id)
        .outerjoin(Clinician, Clinician.id == ClinicSession.clinician_id)
        .outerjoin(lapsed, lapsed.c.slot_id == Slot.id)
        .where(
            Slot.hospital_id == hospital_id,
            Slot.local_date.between(first_date, last_date),
            Slot.closes_at > now,
            ClinicSession.status == SessionStatus.OPEN,
        )
        .order_by(Slot.starts_at, ClinicSession.clinician_id, Slot.id)
    )
    return _filtered(
        query, department_id=department_id, clinician_id=clinician_id, fee_class=fee_class
    )


def _already_in_session() -> Conflict:
    return Conflict(
        _l("This patient already has an appointment in this session."),
        code="already_booked_in_session",
    )


def _insert_appointment(
    slot: Slot, patient: Patient, actor: Account, *, now: datetime, **values: Any
) -> Appointment:
    """Add the patient's appointment in the slot at the session's fee (its place is taken)."""
    appointment = Appointment(
        hospital_id=slot.hospital_id,
        slot_id=slot.id,
        session_id=slot.session_id,
        local_date=slot.local_date,
        patient_id=patient.id,
        account_id=actor.id,
        fee_class=slot.session.fee_class,
        fee_fen=slot.session.fee_fen,
        created_at=now,
        **values,
    )
    db.session.add(appointment)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another request for the same patient and session won the race to the unique index.
        raise _already_in_session() from exc
    return appointment


def search_availability(
    hospital_id: int,
    *,
    first_date: date,
    last_date: date,
    now: datetime,
    department_id: int | None = None,
    clinician_id: int | None = None,
    fee_class: FeeClass | None = None,
    only_bookable: bool = False,
) -> list[AvailableSlot]:
    """Slots still open for booking in the range, with their remaining places, in one query."""
    query = _availability_query(
        hospital_id,
        first_date=first_date,
        last_date=last_date,
        department_id=department_id,
        clinician_id=clinician_id,
        fee_class=fee_class,
        now=now,
    )
    result = []
    for row in db.session.execute(query):
        (sid, session_id, starts_at, ends_at, day, capacity, booked, lapsed_n) = row[:8]
        (clin_id, name_zh, name_en, dept_id, fee_cls, fee, release_at) = row[8:]
        remaining = max(0, capacity - (booked - lapsed_n))
        bookable = release_at <= now and remaining > 0
        if only_bookable and not bookable:
            continue
        result.append(
            AvailableSlot(
                slot_id=sid,
                session_id=session_id,
                starts_at=starts_at,
                ends_at=ends_at,
                local_date=day,
                clinician_id=clin_id,
                clinician_name_zh=name_zh or "",
                clinician_name_en=name_en or "",
                department_id=dept_id,
                fee_class=fee_cls,
                fee_fen=fee,
                capacity=capacity,
                remaining=remaining,
                release_at=release_at,
                bookable=bookable,
            )
        )
    return result


@dataclass(frozen=True)
class AvailableSession:
    session_id: int
    local_date: date
    start_time: time
    end_time: time
    starts_at: datetime
    clinician_id: int | None
    clinician_name_zh: str
    clinician_name_en: str
    department_id: int
    fee_class: FeeClass
    fee_fen: int
    open_slots: int
    remaining: int
    release_at: datetime
    bookable: bool


def search_sessions(
    hospital_id: int,
    *,
    first_date: date,
    last_date: date,
    now: datetime,
    department_id: int | None = None,
    clinician_id: int | None = None,
    fee_class: FeeClass | None = None,
) -> list[AvailableSession]:
    """Sessions (clinician and date) still open for booking with their places left, in one query.

    The department step of booking: which clinician has room on which day.
    """
    lapsed = _lapsed_holds(now)
    free = Slot.capacity - Slot.booked + sa.func.coalesce(lapsed.c.lapsed, 0)
    query = (
        sa.select(
            ClinicSession.id,
            ClinicSession.local_date,
            ClinicSession.start_time,
            ClinicSession.end_time,
            ClinicSession.starts_at,
            ClinicSession.clinician_id,
            Clinician.name_zh,
            Clinician.name_en,
            ClinicSession.department_id,
            ClinicSession.fee_class,
            ClinicSession.fee_fen,
            ClinicSession.release_at,
            sa.func.count(Slot.id),
            sa.func.sum(sa.case((free > 0, free), else_=0)),
        )
        .join(Slot, Slot.session_id == ClinicSession.id)
        .outerjoin(Clinician, Clinician.id == ClinicSession.clinician_id)
        .outerjoin(lapsed, lapsed.c.slot_id == Slot.id)
        .where(
            ClinicSession.hospital_id == hospital_id,
            ClinicSession.local_date.between(first_date, last_date),
            ClinicSession.status == SessionStatus.OPEN,
            Slot.closes_at > now,
        )
        .group_by(ClinicSession.id, Clinician.name_zh, Clinician.name_en)
        .order_by(ClinicSession.starts_at, ClinicSession.clinician_id)
    )
    query = _filtered(
        query, department_id=department_id, clinician_id=clinician_id, fee_class=fee_class
    )
    result = []
    for row in db.session.execute(query):
        remaining = int(row[13] or 0)
        result.append(
            AvailableSession(
                session_id=row[0],
                local_date=row[1],
                start_time=row[2],
                end_time=row[3],
                starts_at=row[4],
                clinician_id=row[5],
                clinician_name_zh=row[6] or "",
                clinician_name_en=row[7] or "",
                department_id=row[8],
                fee_class=row[9],
                fee_fen=row[10],
                open_slots=row[12],
                remaining=remaining,
                release_at=row[11],
                bookable=row[11] <= now and remaining > 0,
            )
        )
    return result


# ---- taking and giving back places --------------------------------------------------------


def _take_place(slot_id: int) -> bool:
    """Take one place in the slot if one is free: the check and the increment are one statement."""
    return db.session.execute(_TAKE_PLACE, {"slot_id": slot_id}).rowcount == 1


def _give_back_place(slot_id: int) -> None:
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == slot_id)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _end_appointment(
    appointment_id: int,
    *,
    to_state: AppointmentState,
    from_states: tuple[AppointmentState, ...],
    reason: str,
    refund: str,
    now: datetime,
    actor: Account | None = None,
    note: str = "",
    lapsed_only: bool = False,
) -> bool:
    """Move an appointment out of an occupying state and give its place back, exactly once.

    Returns False when another request got there first (the row was no longer in from_states).
    """
    values: dict[str, Any] = {"state": to_state, "sequence": Appointment.sequence + 1}
    if to_state is AppointmentState.EXPIRED:
        values["expired_at"] = now
    else:
        values.update(
            cancelled_at=now,
            cancelled_by_account_id=actor.id if actor is not None else None,
            cancel_reason=note[:200],
        )
    conditions = [Appointment.id == appointment_id, Appointment.state.in_(from_states)]
    if lapsed_only:
        conditions += [
            Appointment.state == AppointmentState.HELD,
            Appointment.hold_expires_at <= now,
        ]
    row = db.session.execute(
        sa.update(Appointment)
        .where(*conditions)
        .values(**values)
        .returning(Appointment.slot_id, Appointment.hospital_id, Appointment.patient_id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return False
    slot_id, hospital_id, patient_id = row
    _give_back_place(slot_id)
    _expire_cached(Appointment, appointment_id)
    _expire_cached(Slot, slot_id)
    events.appointment_cancelled.send(
        "scheduling",
        appointment_id=appointment_id,
        hospital_id=hospital_id,
        patient_id=patient_id,
        reason=reason,
        refund=refund,
        now=now,
    )
    if reason == "hospital_cancelled":
        notices.cancelled_by_hospital(appointment_id, note=note, now=now)
    return True


def _expire_cached(model: type, pk: int) -> None:
    """Make the session reload a row changed behind the ORM's back."""
    obj = db.session.identity_map.get(db.session.identity_key(model, pk))
    if obj is not None:
        db.session.expire(obj)


def release_lapsed_holds_on_slot(slot_id: int, *, now: datetime) -> int:
    ids = db.session.scalars(
        sa.select(Appointment.id).where(
            Appointment.slot_id == slot_id,
            Appointment.state == AppointmentState.HELD,
            Appointment.hold_expires_at <= now,
        )
    ).all()
    return sum(1 for appointment_id in ids if _expire_hold(appointment_id, now))


def _expire_hold(appointment_id: int, now: datetime) -> bool:
    return _end_appointment(
        appointment_id,
        to_state=AppointmentState.EXPIRED,
        from_states=(AppointmentState.HELD,),
        reason="expired",
        refund="none",
        now=now,
        lapsed_only=True,
    )


def release_expired_holds(*, now: datetime, limit: int = 1000) -> int:
    """Release every hold past its expiry (the job; reads treat them as expired anyway)."""
    ids = db.session.scalars(
        sa.select(Appointment.id)
        .where(Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at <= now)
        .order_by(Appointment.hold_expires_at)
        .limit(limit)
    ).all()
    return sum(1 for appointment_id in ids if _expire_hold(appointment_id, now))


# ---- holds and bookings -------------------------------------------------------------------


def _get_slot(hospital_id: int, slot_id: Any) -> Slot:
    slot = db.session.get(Slot, slot_id) if isinstance(slot_id, int) else None
    if slot is None or slot.hospital_id != hospital_id:
        raise NotFound(_l("No such slot. Search again for free times."), code="slot_not_found")
    return slot


def _check_bookable(slot: Slot, now: datetime) -> None:
    session = slot.session
    if session.status is not SessionStatus.OPEN:
        raise Conflict(
            _l("This session has been cancelled. Pick another time."), code="session_cancelled"
        )
    if slot.starts_at <= now:
        raise InvalidInput(_l("This slot is in the past. Pick a later time."), code="slot_in_past")
    if now < session.release_at:
        raise InvalidInput(
            _l("Booking for this slot has not opened yet. Try again after it is released."),
            code="not_released",
        )
    if now >= slot.closes_at:
        raise InvalidInput(
            _l("Online booking for this slot has closed. Pick a later time."),
            code="booking_closed",
        )


def _lock_booker(account_id: int, patient_id: int) -> None:
    """Serialise holds by the same account or for the same patient, so limits cannot be raced.

    On SQLite every write transaction is already serial (BEGIN IMMEDIATE).
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(
        sa.text(
            "SELECT 1 FROM account, patient WHERE account.id = :a AND patient.id = :p "
            "FOR NO KEY UPDATE"
        ),
        {"a": account_id, "p": patient_id},
    )


# The hot path of a booking rush runs these as prebuilt statements: building them with the
# expression language on every request costs more CPU than the database spends on them.
_ACTIVE_SQL = "(state IN ('booked', 'checked_in') OR (state = 'held' AND hold_expires_at > :now))"
_LIMITS = sa.text(
    f"""
    SELECT
      (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
         AND local_date = :local_date AND id <> :ignore_id AND {_ACTIVE_SQL}),
      (SELECT count(*) FROM appointment WHERE account_id = :account_id
         AND local_date = :local_date AND id <> :ignore_id AND {_ACTIVE_SQL}),
      (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
         AND session_id = :session_id AND id <> :ignore_id AND {_ACTIVE_SQL}),
      (SELECT count(*) FROM booking_suspension WHERE patient_id = :patient_id
         AND ends_at > :now AND lifted_at IS NULL),
      (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
         AND session_id = :session_id AND state = 'held' AND hold_expires_at <= :now),
      rules.max_active_per_patient_per_day,
      rules.max_active_per_account_per_day,
      rules.hold_minutes
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN scheduling_rules AS rules ON rules.hospital_id = :hospital_id
    """
).bindparams(
    sa.bindparam("now", type_=UTCDateTime()),
    sa.bindparam("local_date", type_=sa.Date()),
)
# The slot (with its session) and whether lapsed holds still occupy it, in one round trip.
_SLOT_FOR_HOLD = sa.select(
    Slot,
    sa.exists()
    .where(
        Appointment.slot_id == Slot.id,
        Appointment.state == AppointmentState.HELD,
        Appointment.hold_expires_at <= sa.bindparam("now", type_=UTCDateTime()),
    )
    .label("has_lapsed_holds"),
).where(Slot.id == sa.bindparam("slot_id", type_=sa.Integer()))
_TAKE_PLACE = sa.text(
    "UPDATE slot SET booked = booked + 1 WHERE id = :slot_id AND booked < capacity"
)


@dataclass(frozen=True)
class _Limits:
    lapsed_holds: int  # this patient's lapsed holds still sitting in the session
    hold_minutes: int


def _check_limits(
    actor: Account,
    patient_id: int,
    *,
    session_id: int,
    local_date: date,
    now: datetime,
    desk: bool,
    ignore_appointment_id: int | None = None,
) -> _Limits:
    """Check suspension, one-per-session and the per-day limits, counted in one query.

    The same query reads the hospital's limits (a hold needs no separate rules lookup).
    """
    (
        n_patient,
        n_account,
        n_session,
        n_suspended,
        n_lapsed,
        max_per_patient,
        max_per_account,
        hold_minutes,
    ) = db.session.execute(
        _LIMITS,
        {
            "patient_id": patient_id,
            "account_id": actor.id,
            "hospital_id": actor.hospital_id,
            "session_id": session_id,
            "local_date": local_date,
            "now": now,
            "ignore_id": ignore_appointment_id or 0,
        },
    ).one()
    if max_per_patient is None:  # the hospital has not set its own rules
        max_per_patient = DEFAULT_RULES["max_active_per_patient_per_day"]
        max_per_account = DEFAULT_RULES["max_active_per_account_per_day"]
        hold_minutes = DEFAULT_RULES["hold_minutes"]
    if n_suspended and not desk:
        raise Forbidden(
            _l(
                "Online booking is suspended for this patient after repeated missed "
                "appointments. Please contact the registration desk."
            ),
            code="patient_suspended",
        )
    if n_session:
        raise _already_in_session()
    if n_patient >= max_per_patient:
        raise Conflict(
            _l(
                "This patient already has %(n)d appointments on that day, the most allowed.",
                n=n_patient,
            ),
            code="patient_daily_limit",
        )
    if not desk and n_account >= max_per_account:
        raise Conflict(
            _l(
                "Your account already has %(n)d appointments on that day, the most one account "
                "may hold.",
                n=n_account,
            ),
            code="account_daily_limit",
        )
    return _Limits(lapsed_holds=n_lapsed, hold_minutes=hold_minutes)


def _taken() -> Conflict:
    return Conflict(_l("This slot was just taken. Pick another time."), code="slot_full")


def hold(actor: Account, *, patient_id: Any, slot_id: Any, now: datetime) -> Appointment:
    """Reserve a place in a slot for a patient until the hold expires (or is confirmed)."""
    row = (
        db.session.execute(_SLOT_FOR_HOLD, {"slot_id": slot_id, "now": now}).first()
        if isinstance(slot_id, int)
        else None
    )
    if row is None or row[0].hospital_id != actor.hospital_id:
        raise NotFound(_l("No such slot. Search again for free times."), code="slot_not_found")
    slot, has_lapsed_holds = row
    _check_bookable(slot, now)
    # Fail fast when the slot was already full when read: most losers of a rush stop here, after
    # this one query (whether a slot is full is public; nothing about the patient is revealed).
    if slot.booked >= slot.capacity and not (
        has_lapsed_holds and release_lapsed_holds_on_slot(slot.id, now=now)
    ):
        raise _taken()
    patient = require_patient_access(actor, patient_id, Permission.BOOK, action="scheduling.hold")
    desk = _is_desk_staff(actor)
    _lock_booker(actor.id, patient.id)
    limits = _check_limits(
        actor,
        patient.id,
        session_id=slot.session_id,
        local_date=slot.local_date,
        now=now,
        desk=desk,
    )
    if limits.lapsed_holds:
        # A lapsed hold of this patient in this session still occupies the unique index.
        for appointment_id in db.session.scalars(
            sa.select(Appointment.id).where(
                Appointment.patient_id == patient.id,
                Appointment.session_id == slot.session_id,
                Appointment.state == AppointmentState.HELD,
                Appointment.hold_expires_at <= now,
            )
        ).all():
            _expire_hold(appointment_id, now)
    appointment = _insert_appointment(
        slot,
        patient,
        actor,
        now=now,
        state=AppointmentState.HELD,
        hold_expires_at=now + timedelta(minutes=limits.hold_minutes),
    )
    events.appointment_held.send(
        "scheduling",
        appointment_id=appointment.id,
        hospital_id=appointment.hospital_id,
        patient_id=patient.id,
        account_id=actor.id,
        fee_fen=appointment.fee_fen,
        fee_class=appointment.fee_class.value,
        expires_at=appointment.hold_expires_at,
        now=now,
    )
    # Take the place last, so the slot's row stays locked only from here to the commit. If it
    # fails, the caller's rollback also removes the appointment and whatever the signal wrote.
    if not _take_place(slot.id) and not (
        release_lapsed_holds_on_slot(slot.id, now=now) and _take_place(slot.id)
    ):
        raise _taken()
    db.session.expire(slot, ["booked"])
    return appointment


def confirm_booking(
    appointment_id: int, *, now: datetime, order_id: int | None = None, accept_lapsed: bool = True
) -> Appointment | None:
    """Turn a hold into a booking (payment received, or nothing to pay); None if it cannot be.

    A payment that arrives after the hold lapsed is still accepted while the place is free.
    Confirming twice is harmless: the second call returns the booking unchanged.
    """
    conditions = [Appointment.id == appointment_id, Appointment.state == AppointmentState.HELD]
    if not accept_lapsed:
        conditions.append(Appointment.hold_expires_at > now)
    changed = db.session.execute(
        sa.update(Appointment)
        .where(*conditions)
        .values(state=AppointmentState.BOOKED, booked_at=now, order_id=order_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    _expire_cached(Appointment, appointment_id)
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    if changed == 1:
        _announce_booking(appointment, now=now)
        return appointment
    if appointment.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
        return appointment
    if not accept_lapsed or appointment.state is not AppointmentState.EXPIRED:
        return None
    # The hold was released; take the place again if it is still free and the slot bookable.
    slot = appointment.slot
    if slot.session.status is not SessionStatus.OPEN or slot.starts_at <= now:
        return None
    try:
        with db.session.begin_nested():
            if not _take_place(slot.id):
                return None
            changed = db.session.execute(
                sa.update(Appointment)
                .where(
                    Appointment.id == appointment_id,
                    Appointment.state == AppointmentState.EXPIRED,
                )
                .values(state=AppointmentState.BOOKED, booked_at=now, order_id=order_id)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                raise _Undo()
    except (IntegrityError, _Undo):
        return None
    _expire_cached(Appointment, appointment_id)
    _expire_cached(Slot, slot.id)
    _announce_booking(appointment, now=now)
    return appointment


def _announce_booking(appointment: Appointment, *, now: datetime) -> None:
    """Tell the patient, and the statistics, that an appointment is booked."""
    notices.booking_confirmed(appointment, now=now)
    session = appointment.slot.session
    booker = db.session.get(Account, appointment.account_id)
    events.appointment_booked.send(
        None,
        appointment_id=appointment.id,
        hospital_id=appointment.hospital_id,
        department_id=session.department_id,
        clinician_id=session.clinician_id,
        starts_at=appointment.slot.starts_at,
        online=not appointment.is_addon and booker is not None and not booker.is_staff,
        now=now,
    )


class _Undo(Exception):
    """Roll back a savepoint whose work turned out to be unwanted."""


def _get_appointment(actor: Account, appointment_id: Any, permission: Permission) -> Appointment:
    appointment = (
        db.session.get(Appointment, appointment_id) if isinstance(appointment_id, int) else None
    )
    if appointment is None or appointment.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such appointment."), code="appointment_not_found")
    require_patient_access(
        actor, appointment.patient_id, permission, action=f"scheduling.{permission.value}"
    )
    return appointment


def effective_state(appointment: Appointment, now: datetime) -> AppointmentState:
    """The state as everyone must see it: a hold past its expiry is expired, job or no job."""
    if (
        appointment.state is AppointmentState.HELD
        and appointment.hold_expires_at is not None
        and appointment.hold_expires_at <= now
    ):
        return AppointmentState.EXPIRED
    return appointment.state


def _hold_lapsed() -> Conflict:
    return Conflict(
        _l("Your hold on this slot lapsed. Search again and pick a time."), code="hold_expired"
    )


def confirm(actor: Account, appointment_id: Any, *, now: datetime) -> Appointment:
    """The patient's confirm step for a free appointment; a fee-bearing one is booked by paying."""
    appointment = _get_appointment(actor, appointment_id, Permission.BOOK)
    state = effective_state(appointment, now)
    if state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
        return appointment
    if state is AppointmentState.EXPIRED:
        raise _hold_lapsed()
    if state is not AppointmentState.HELD:
        raise Conflict(
            _l("This appointment can no longer be confirmed."), code="appointment_not_held"
        )
    if appointment.fee_fen > 0:
        # A fee-bearing hold is booked by its payment (billing's order_paid), never for free.
        raise Conflict(
            _l("Pay the registration fee to book this time: the payment confirms the booking."),
            code="payment_required",
        )
    booked = confirm_booking(appointment.id, now=now, accept_lapsed=False)
    if booked is None:
        raise _hold_lapsed()
    return booked


def on_order_paid(sender: Any, **kw: Any) -> bool | None:
    """Billing reports a paid registration order: book the appointment it refers to."""
    reference = str(kw.get("reference", ""))
    if not reference.startswith("appointment:"):
        return None
    try:
        appointment_id = int(reference.split(":", 1)[1])
    except ValueError:
        return False
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.hospital_id != kw.get("hospital_id"):
        return False
    booked = confirm_booking(appointment_id, now=kw["now"], order_id=kw.get("order_id"))
    return booked is not None


events.order_paid.connect(on_order_paid)


def patient_cancel_deadline(appointment: Appointment, zone: ZoneInfo, rules: Rules) -> datetime:
    return cancel_cutoff(
        appointment.local_date, rules.cancel_cutoff_days_before, rules.cancel_cutoff_time, zone
    )


def cancel(actor: Account, appointment_id: Any, *, now: datetime, reason: str = "") -> Appointment:
    """Cancel a hold or booking: patients until the cut-off, desk staff at any time with a reason."""
    appointment = _get_appointment(actor, appointment_id, Permission.BOOK)
    desk = _is_desk_staff(actor)
    state = effective_state(appointment, now)
    if state not in (AppointmentState.HELD, AppointmentState.BOOKED):
        raise Conflict(
            _l(
                "This appointment cannot be cancelled any more (it is %(state)s).",
                state=state.value,
            ),
            code="not_cancellable",
        )
    if desk:
        if not reason.strip():
            raise InvalidInput(
                _l("Give a reason for cancelling on the patient's behalf."),
                code="reason_required",
            )
    elif state is AppointmentState.BOOKED:
        rules = rules_for(appointment.hospital_id)
        deadline = patient_cancel_deadline(
            appointment, hospital_zone(appointment.hospital_id), rules
        )
        if now >= deadline:
            raise Conflict(
                _l(
                    "Online cancellation closed at the cut-off. Please contact the "
                    "registration desk."
                ),
                code="cancellation_closed",
            )
    if desk:
        why, refund = "hospital_cancelled", "full"
    else:
        why, refund = "patient_cancelled", ("full" if state is AppointmentState.BOOKED else "none")
    ended = _end_appointment(
        appointment.id,
        to_state=AppointmentState.CANCELLED,
        from_states=(AppointmentState.HELD, AppointmentState.BOOKED),
        reason=why,
        refund=refund,
        actor=actor,
        note=reason,
        now=now,
    )
    if not ended:
        raise Conflict(
            _l("This appointment was changed at the same time. Reload and try again."),
            code="appointment_changed",
        )
    if desk:
        record(
            action="scheduling.appointment_cancelled_by_staff",
            actor=actor,
            object_type="appointment",
            object_id=str(appointment.id),
            patient_id=appointment.patient_id,
            detail={"reason": reason},
        )
    db.session.refresh(appointment)
    return appointment


def reschedule(
    actor: Account, appointment_id: Any, *, new_slot_id: Any, now: datetime
) -> Appointment:
    """Move a booking to another slot in one transaction, keeping its payment."""
    appointment = _get_appointment(actor, appointment_id, Permission.BOOK)
    if effective_state(appointment, now) is not AppointmentState.BOOKED:
        raise Conflict(_l("Only a confirmed booking can be rescheduled."), code="not_reschedulable")
    rules = rules_for(appointment.hospital_id)
    desk = _is_desk_staff(actor)
    if appointment.reschedule_count >= rules.reschedule_limit:
        raise Conflict(
            _l(
                "This booking has been rescheduled %(n)d times, the most allowed. Cancel it "
                "and book again.",
                n=appointment.reschedule_count,
            ),
            code="reschedule_limit",
        )
    zone = hospital_zone(appointment.hospital_id)
    if not desk and now >= patient_cancel_deadline(appointment, zone, rules):
        raise Conflict(
            _l("Online changes closed at the cut-off. Please contact the registration desk."),
            code="reschedule_closed",
        )
    new_slot = _get_slot(appointment.hospital_id, new_slot_id)
    if new_slot.id == appointment.slot_id:
        raise InvalidInput(_l("Choose a different slot."), code="same_slot")
    _check_bookable(new_slot, now)
    if (new_slot.session.fee_fen, new_slot.session.fee_class) != (
        appointment.fee_fen,
        appointment.fee_class,
    ):
        raise InvalidInput(
            _l("Choose a slot with the same fee, so the payment can be kept."),
            code="fee_differs",
        )
    _lock_booker(actor.id, appointment.patient_id)
    _check_limits(
        actor,
        appointment.patient_id,
        session_id=new_slot.session_id,
        local_date=new_slot.local_date,
        now=now,
        desk=True,  # moving a booking neither adds one nor books anew online
        ignore_appointment_id=appointment.id,
    )
    if not _take_place(new_slot.id) and not (
        release_lapsed_holds_on_slot(new_slot.id, now=now) and _take_place(new_slot.id)
    ):
        raise _taken()
    old_slot_id = appointment.slot_id
    try:
        moved = db.session.execute(
            sa.update(Appointment)
            .where(
                Appointment.id == appointment.id,
                Appointment.state == AppointmentState.BOOKED,
                Appointment.slot_id == old_slot_id,
                Appointment.reschedule_count == appointment.reschedule_count,
            )
            .values(
                slot_id=new_slot.id,
                session_id=new_slot.session_id,
                local_date=new_slot.local_date,
                reschedule_count=Appointment.reschedule_count + 1,
                sequence=Appointment.sequence + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    except IntegrityError as exc:
        raise Conflict(
            _l("This patient already has an appointment in that session."),
            code="already_booked_in_session",
        ) from exc
    if moved != 1:
        # Cancelled or moved by a concurrent request: the caller rolls back the place taken above.
        raise Conflict(
            _l("This appointment was changed at the same time. Reload and try again."),
            code="appointment_changed",
        )
    _give_back_place(old_slot_id)
    _expire_cached(Slot, old_slot_id)
    _expire_cached(Slot, new_slot.id)
    db.session.refresh(appointment)
    record(
        action="scheduling.appointment_rescheduled",
        actor=actor,
        object_type="appointment",
        object_id=str(appointment.id),
        patient_id=appointment.patient_id,
        detail={"from_slot": old_slot_id, "to_slot": new_slot.id},
    )
    return appointment


def add_on(
    actor: Account, *, slot_id: Any, patient_id: Any, reason: str, now: datetime
) -> Appointment:
    """Overbook a slot explicitly ("加号"): one more place for this patient, with a reason, audited."""
    if not actor.has_role(Role.REGISTRAR, Role.ADMIN, Role.CLINICIAN):
        raise Forbidden(_l("Only clinic staff may add an appointment."), code="role_required")
    if not reason.strip():
        raise InvalidInput(_l("Give a reason for the add-on appointment."), code="reason_required")
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None or patient.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such patient."), code="patient_not_found")
    slot = _get_slot(actor.hospital_id, slot_id)
    if slot.session.status is not SessionStatus.OPEN:
        raise Conflict(_l("This session has been cancelled."), code="session_cancelled")
    if slot.session.ends_at <= now:
        raise InvalidInput(_l("This session is over."), code="session_over")
    _lock_booker(actor.id, patient.id)
    _check_limits(
        actor,
        patient.id,
        session_id=slot.session_id,
        local_date=slot.local_date,
        now=now,
        desk=True,
    )
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == slot.id)
        .values(booked=Slot.booked + 1, addon_allowance=Slot.addon_allowance + 1)
        .execution_options(synchronize_session=False)
    )
    appointment = _insert_appointment(
        slot,
        patient,
        actor,
        now=now,
        state=AppointmentState.BOOKED,
        is_addon=True,
        addon_reason=reason[:200],
        booked_at=now,
    )
    _expire_cached(Slot, slot.id)
    record(
        action="scheduling.add_on",
        actor=actor,
        object_type="appointment",
        object_id=str(appointment.id),
        patient_id=patient.id,
        detail={"slot_id": slot.id, "reason": reason},
    )
    _announce_booking(appointment, now=now)
    return appointment


def check_in(actor: Account | None, appointment_id: int, *, now: datetime) -> Appointment:
    """Mark a booking as arrived, within the session's check-in window."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or (actor is not None and appointment.hospital_id != actor.hospital_id):
        raise NotFound(_l("No such appointment."), code="appointment_not_found")
    session = appointment.slot.session
    opens = appointment.slot.starts_at - timedelta(minutes=session.checkin_opens_minutes)
    closes = appointment.slot.starts_at + timedelta(minutes=session.checkin_closes_minutes)
    if not opens <= now <= closes:
        raise Conflict(
            _l(
                "Check-in is open from %(opens)s minutes before to %(closes)s minutes after the "
                "appointment time.",
                opens=session.checkin_opens_minutes,
                closes=session.checkin_closes_minutes,
            ),
            code="outside_checkin_window",
        )
    changed = db.session.execute(
        sa.update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.state == AppointmentState.BOOKED)
        .values(state=AppointmentState.CHECKED_IN, checked_in_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(appointment)
    if changed != 1 and appointment.state is not AppointmentState.CHECKED_IN:
        raise Conflict(_l("Only a confirmed booking can be checked in."), code="not_booked")
    return appointment


def complete(actor: Account | None, appointment_id: int, *, now: datetime) -> Appointment:
    """Mark a checked-in appointment as seen."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or (actor is not None and appointment.hospital_id != actor.hospital_id):
        raise NotFound(_l("No such appointment."), code="appointment_not_found")
    changed = db.session.execute(
        sa.update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.state == AppointmentState.CHECKED_IN)
        .values(state=AppointmentState.COMPLETED, completed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(appointment)
    if changed != 1 and appointment.state is not AppointmentState.COMPLETED:
        raise Conflict(_l("Only a checked-in appointment can be completed."), code="not_checked_in")
    return appointment


# ---- no-shows and strikes -----------------------------------------------------------------


def mark_no_shows(*, now: datetime) -> int:
    """At the end of each session, mark bookings never checked in as no-shows; count strikes."""
    session_ids = db.session.scalars(
        sa.select(ClinicSession.id).where(
            ClinicSession.ends_at <= now,
            ClinicSession.no_shows_marked_at.is_(None),
            ClinicSession.status == SessionStatus.OPEN,
        )
    ).all()
    marked = 0
    for session_id in session_ids:
        claimed = db.session.execute(
            sa.update(ClinicSession)
            .where(ClinicSession.id == session_id, ClinicSession.no_shows_marked_at.is_(None))
            .values(no_shows_marked_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        for appointment_id in db.session.scalars(
            sa.select(Appointment.id).where(
                Appointment.session_id == session_id, Appointment.state == AppointmentState.HELD
            )
        ).all():
            _end_appointment(
                appointment_id,
                to_state=AppointmentState.EXPIRED,
                from_states=(AppointmentState.HELD,),
                reason="expired",
                refund="none",
                now=now,
            )
        patients = db.session.execute(
            sa.update(Appointment)
            .where(
                Appointment.session_id == session_id,
                Appointment.state == AppointmentState.BOOKED,
            )
            .values(state=AppointmentState.NO_SHOW, no_show_at=now)
            .returning(Appointment.id, Appointment.patient_id, Appointment.hospital_id)
            .execution_options(synchronize_session=False)
        ).all()
        marked += len(patients)
        for appointment_id, patient_id, hospital_id in patients:
            events.appointment_no_show.send(
                None, appointment_id=appointment_id, hospital_id=hospital_id, now=now
            )
            _count_strikes(patient_id, hospital_id, now=now)
    return marked


def _count_strikes(patient_id: int, hospital_id: int, *, now: datetime) -> None:
    rules = rules_for(hospital_id)
    last_suspension = db.session.scalar(
        sa.select(sa.func.max(BookingSuspension.starts_at)).where(
            BookingSuspension.patient_id == patient_id
        )
    )
    if active_suspension(patient_id, now=now) is not None:
        return
    since = now - timedelta(days=rules.no_show_window_days)
    if last_suspension is not None and last_suspension > since:
        since = last_suspension  # strikes before a suspension were paid for by it
    strikes = db.session.scalar(
        sa.select(sa.func.count()).where(
            Appointment.patient_id == patient_id,
            Appointment.state == AppointmentState.NO_SHOW,
            Appointment.no_show_at > since,
        )
    )
    if strikes < rules.no_show_strikes:
        return
    db.session.add(
        BookingSuspension(
            hospital_id=hospital_id,
            patient_id=patient_id,
            starts_at=now,
            ends_at=now + timedelta(days=rules.suspension_days),
            strikes=strikes,
        )
    )
    db.session.flush()


def active_suspension(patient_id: int, *, now: datetime) -> BookingSuspension | None:
    return db.session.scalar(
        sa.select(BookingSuspension)
        .where(
            BookingSuspension.patient_id == patient_id,
            BookingSuspension.ends_at > now,
            BookingSuspension.lifted_at.is_(None),
        )
        .order_by(BookingSuspension.ends_at.desc())
        .limit(1)
    )


def active_suspensions(actor: Account, *, now: datetime) -> list[tuple[BookingSuspension, Patient]]:
    """The hospital's patients who may not book online now, soonest to end first (desk staff)."""
    _require_roles(actor, actor.hospital_id, DESK_ROLES)
    rows = db.session.execute(
        sa.select(BookingSuspension, Patient)
        .join(Patient, Patient.id == BookingSuspension.patient_id)
        .where(
            BookingSuspension.hospital_id == actor.hospital_id,
            Patient.hospital_id == actor.hospital_id,
            BookingSuspension.ends_at > now,
            BookingSuspension.lifted_at.is_(None),
        )
        .order_by(BookingSuspension.ends_at)
        .limit(500)
    ).all()
    return [(suspension, patient) for suspension, patient in rows]


def lift_suspension(actor: Account, patient_id: int, *, reason: str, now: datetime) -> int:
    """Let a suspended patient book online again (desk staff, with a reason)."""
    _require_roles(actor, actor.hospital_id, DESK_ROLES)
    if not reason.strip():
        raise InvalidInput(_l("Give a reason for lifting the suspension."), code="reason_required")
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such patient."), code="patient_not_found")
    lifted = db.session.execute(
        sa.update(BookingSuspension)
        .where(
            BookingSuspension.patient_id == patient_id,
            BookingSuspension.ends_at > now,
            BookingSuspension.lifted_at.is_(None),
        )
        .values(lifted_at=now, lifted_by_account_id=actor.id, lift_reason=reason[:200])
        .execution_options(synchronize_session=False)
    ).rowcount
    if not lifted:
        raise Conflict(_l("This patient is not suspended."), code="not_suspended")
    record(
        action="scheduling.suspension_lifted",
        actor=actor,
        object_type="patient",
        object_id=str(patient_id),
        patient_id=patient_id,
        detail={"reason": reason},
    )
    return lifted


# ---- lists --------------------------------------------------------------------------------


def appointments_for_account(actor: Account, *, now: datetime) -> list[Appointment]:
    """Appointments of the account's own profile and the family members it may see."""
    from hospital.patients.access import patients_acting_for

    patient_ids = [p.id for p in patients_acting_for(actor, Permission.VIEW)]
    if not patient_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Appointment)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(Appointment.patient_id.in_(patient_ids))
            .order_by(Slot.starts_at.desc(), Appointment.id.desc())
            .limit(200)
        ).all()
    )


def day_list(actor: Account, *, clinician_id: int, local_date: date) -> list[Appointment]:
    """A clinician's appointments on one local day, in time order (staff only)."""
    if not actor.is_staff or not staff_grants(actor, Permission.VIEW):
        raise Forbidden(_l("Only clinic staff may see the day list."), code="role_required")
    clinician = db.session.get(Clinician, clinician_id)
    if clinician is None or clinician.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such clinician."), code="clinician_not_found")
    return list(
        db.session.scalars(
            sa.select(Appointment)
            .join(ClinicSession, ClinicSession.id == Appointment.session_id)
            .join(Slot, Slot.id == Appointment.slot_id)
            .where(
                ClinicSession.clinician_id == clinician_id,
                Appointment.local_date == local_date,
                Appointment.state.not_in((AppointmentState.EXPIRED,)),
            )
            .order_by(Slot.starts_at, Appointment.id)
        ).all()
    )


def calendar_entry(
    actor: Account, appointment_id: Any, *, now: datetime, language: str = "zh"
) -> CalendarEntry:
    """The appointment as a calendar event (cancelled and lapsed ones as a cancellation)."""
    appointment = _get_appointment(actor, appointment_id, Permission.VIEW)
    session = appointment.slot.session
    hospital = db.session.get(Hospital, appointment.hospital_id)
    clinician = db.session.get(Clinician, session.clinician_id) if session.clinician_id else None
    department = db.session.get(Department, session.department_id)
    point = (
        db.session.get(ServicePoint, session.service_point_id) if session.service_point_id else None
    )
    english = language == "en"
    names = [
        (department.name_en if english else department.name_zh) if department else "",
        (clinician.name_en if english else clinician.name_zh) if clinician else "",
    ]
    location = hospital.name_en if english else hospital.name_zh
    if point is not None:
        location = f"{location}, {point.name_en if english else point.name_zh} {point.building}{point.room}"
    state = effective_state(appointment, now)
    return CalendarEntry(
        uid=f"appointment-{appointment.id}@{hospital.code.lower()}.hospital",
        sequence=appointment.sequence,
        starts_at=appointment.slot.starts_at,
        ends_at=appointment.slot.ends_at,
        summary=str(_l("Appointment: %(who)s", who=" ".join(n for n in names if n))),
        location=location.strip(),
        description=str(
            _l(
                "Please check in from %(minutes)d minutes before your time.",
                minutes=session.checkin_opens_minutes,
            )
        ),
        cancelled=state in (AppointmentState.CANCELLED, AppointmentState.EXPIRED),
        stamped_at=now,
    )


def get_appointment(actor: Account, appointment_id: Any) -> Appointment:
    """One appointment the account may see."""
    return _get_appointment(actor, appointment_id, Permission.VIEW)


def list_templates(actor: Account) -> list[SessionTemplate]:
    return list(
        db.session.scalars(
            sa.select(SessionTemplate)
            .where(SessionTemplate.hospital_id == actor.hospital_id)
            .order_by(
                SessionTemplate.clinician_id, SessionTemplate.weekday, SessionTemplate.start_time
            )
        ).all()
    )


def list_exceptions(actor: Account, *, now: datetime) -> list[ScheduleException]:
    today = local_date_of(now, hospital_zone(actor.hospital_id))
    return list(
        db.session.scalars(
            sa.select(ScheduleException)
            .where(
                ScheduleException.hospital_id == actor.hospital_id,
                ScheduleException.last_date >= today,
            )
            .order_by(ScheduleException.first_date)
        ).all()
    )
