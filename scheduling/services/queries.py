"""Read appointments, templates and exceptions for the pages and the API."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.billing.references import OrderRef
from hospital.billing.services import queries as billing_queries
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, InvalidInput, NotFound
from hospital.organisation.models import (
    Clinician,
    Department,
    Hospital,
    ServicePoint,
    ServicePointKind,
)
from hospital.patients.access import Permission, patients_acting_for, staff_grants
from hospital.patients.models import Patient
from hospital.zones import local_date
from scheduling.calendar import CalendarEntry
from scheduling.finding import department_matches
from scheduling.finding import index_letter as index_letter  # re-exported: the kiosk's A-Z keys
from scheduling.models import (
    Appointment,
    ClinicSession,
    ScheduleException,
    SessionTemplate,
    Slot,
)
from scheduling.models import AppointmentState as AppointmentState  # re-exported to neighbours
from scheduling.services.booking import _get_appointment
from scheduling.services.places import effective_state
from scheduling.services.rules import hospital_zone


def appointments_for_account(*, actor: Account, now: datetime) -> list[Appointment]:
    """Appointments of the account's own profile and the family members it may see."""
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


def day_list(*, actor: Account, clinician_id: int, local_date: date) -> list[Appointment]:
    """A clinician's appointments on one local day, in time order (staff only)."""
    if not actor.is_staff or not staff_grants(actor, Permission.VIEW):
        raise Forbidden(_l("Only clinic staff may see the day list."), code=ErrorCode.ROLE_REQUIRED)
    clinician = db.session.get(Clinician, clinician_id)
    if clinician is None or clinician.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such clinician."), code=ErrorCode.CLINICIAN_NOT_FOUND)
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
    appointment_id: int, *, actor: Account, now: datetime, language: str = "zh"
) -> CalendarEntry:
    """The appointment as a calendar event (cancelled and lapsed ones as a cancellation)."""
    appointment = _get_appointment(appointment_id, Permission.VIEW, actor=actor)
    session = appointment.slot.session
    hospital = db.session.get_one(Hospital, appointment.hospital_id)
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
    state = effective_state(appointment, now=now)
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


def get_appointment(appointment_id: int, *, actor: Account) -> Appointment:
    """One appointment the account may see."""
    return _get_appointment(appointment_id, Permission.VIEW, actor=actor)


def list_templates(*, actor: Account) -> list[SessionTemplate]:
    return list(
        db.session.scalars(
            sa.select(SessionTemplate)
            .where(SessionTemplate.hospital_id == actor.hospital_id)
            .order_by(
                SessionTemplate.clinician_id, SessionTemplate.weekday, SessionTemplate.start_time
            )
        ).all()
    )


def list_exceptions(*, actor: Account, now: datetime) -> list[ScheduleException]:
    today = local_date(now, hospital_zone(actor.hospital_id))
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


def appointment_of_hospital(hospital_id: int, appointment_id: int) -> Appointment | None:
    """An appointment by id, if it is one of this hospital's (for a device, which has no actor)."""
    appointment = db.session.get(Appointment, appointment_id)
    return (
        appointment if appointment is not None and appointment.hospital_id == hospital_id else None
    )


def appointments_of_patients_on(
    hospital_id: int, patient_ids: list[int], day: date
) -> list[tuple[Appointment, Department, Clinician | None]]:
    """These patients' booked or checked-in appointments on a local day, by session start."""
    if not patient_ids:
        return []
    rows = db.session.execute(
        sa.select(Appointment, Department, Clinician)
        .join(ClinicSession, ClinicSession.id == Appointment.session_id)
        .join(Department, Department.id == ClinicSession.department_id)
        .outerjoin(Clinician, Clinician.id == ClinicSession.clinician_id)
        .where(
            Appointment.hospital_id == hospital_id,
            Appointment.patient_id.in_(patient_ids),
            Appointment.local_date == day,
            Appointment.state.in_((AppointmentState.BOOKED, AppointmentState.CHECKED_IN)),
        )
        .order_by(ClinicSession.starts_at, Appointment.id)
    ).all()
    return [(a, d, c) for a, d, c in rows]


def usual_room(hospital_id: int, clinician_id: int | None) -> int | None:
    """The room a clinician usually works in: their latest weekly session's, else a past session's."""
    if clinician_id is None:
        return None
    from_template = db.session.scalar(
        sa.select(SessionTemplate.service_point_id)
        .where(
            SessionTemplate.hospital_id == hospital_id,
            SessionTemplate.clinician_id == clinician_id,
            SessionTemplate.is_active.is_(True),
            SessionTemplate.service_point_id.is_not(None),
        )
        .order_by(SessionTemplate.id.desc())
        .limit(1)
    )
    if from_template is not None:
        return from_template
    return db.session.scalar(
        sa.select(ClinicSession.service_point_id)
        .where(
            ClinicSession.hospital_id == hospital_id,
            ClinicSession.clinician_id == clinician_id,
            ClinicSession.service_point_id.is_not(None),
        )
        .order_by(ClinicSession.starts_at.desc())
        .limit(1)
    )


def room_of_session(session: ClinicSession) -> int | None:
    """Where a session is held: its own room, else its clinician's usual room (None: nowhere)."""
    if session.service_point_id is not None:
        return session.service_point_id
    return usual_room(session.hospital_id, session.clinician_id)


def department_in_hours(hospital_id: int, department_id: int, *, now: datetime) -> bool:
    """True while one of the department's open clinic sessions is running (its hours today)."""
    from scheduling.models import SessionStatus

    return (
        db.session.scalar(
            sa.select(ClinicSession.id)
            .where(
                ClinicSession.hospital_id == hospital_id,
                ClinicSession.department_id == department_id,
                ClinicSession.status == SessionStatus.OPEN,
                ClinicSession.starts_at <= now,
                ClinicSession.ends_at > now,
            )
            .limit(1)
        )
        is not None
    )


def consultation_rooms(hospital_id: int) -> list[ServicePoint]:
    """The hospital's active consultation rooms, for a session's room field."""
    return list(
        db.session.scalars(
            sa.select(ServicePoint)
            .where(
                ServicePoint.hospital_id == hospital_id,
                ServicePoint.kind == ServicePointKind.CONSULTATION_ROOM,
                ServicePoint.is_active.is_(True),
            )
            .order_by(ServicePoint.code)
        )
    )


def sessions_with_a_room(session_ids: set[int]) -> set[int]:
    """Those of these clinic sessions held in a room: their own, or their clinician's usual one."""
    if not session_ids:
        return set()
    sessions = db.session.scalars(sa.select(ClinicSession).where(ClinicSession.id.in_(session_ids)))
    return {session.id for session in sessions if room_of_session(session) is not None}


def appointment_named_by_code(secret: str, text: str) -> tuple[int, int] | None:
    """The (hospital id, appointment id) a scanned appointment QR code names, or None."""
    from scheduling import appointment_codes

    try:
        return appointment_codes.read_appointment_code(secret, text)
    except appointment_codes.AppointmentCodeError:
        return None


# Lookups the scheduling pages make; what a whole page shows is in `overviews`.


def clinicians_of(hospital_id: int, *, active_only: bool = False) -> list[Clinician]:
    """The hospital's clinicians by department (only those still seeing patients if asked)."""
    query = sa.select(Clinician).where(Clinician.hospital_id == hospital_id)
    if active_only:
        query = query.where(Clinician.is_active.is_(True))
    return list(db.session.scalars(query.order_by(Clinician.department_id, Clinician.id)))


def clinician_in(hospital_id: int, clinician_id: int | None) -> Clinician | None:
    """The hospital's clinician with this id, or None."""
    clinician = db.session.get(Clinician, clinician_id or 0)
    return clinician if clinician is not None and clinician.hospital_id == hospital_id else None


def departments_by_id(hospital_id: int) -> dict[int, Department]:
    return {
        d.id: d
        for d in db.session.scalars(
            sa.select(Department).where(Department.hospital_id == hospital_id)
        )
    }


def departments_matching(hospital_id: int, search: str) -> list[Department]:
    """The open departments whose Chinese or English name or pinyin initials match the search."""
    departments = db.session.scalars(
        sa.select(Department)
        .where(Department.hospital_id == hospital_id, Department.is_active.is_(True))
        .order_by(Department.sort_order, Department.id)
    ).all()
    return [
        d
        for d in departments
        if department_matches(search, d.name_zh, d.name_en, d.pinyin_initials)
    ]


def unpaid_registration_order(appointment: Appointment) -> billing_queries.Order | None:
    """The registration-fee order billing opened when the time was held, while it awaits payment."""
    if appointment.fee_fen <= 0:
        return None
    return billing_queries.pending_order_for(
        appointment.hospital_id, OrderRef.appointment(appointment.id)
    )


def patient_with_record_number(hospital_id: int, record_number: str) -> Patient:
    """The hospital's patient with this medical record number (a fixable error when none)."""
    patient = db.session.scalar(
        sa.select(Patient).where(
            Patient.hospital_id == hospital_id,
            Patient.medical_record_number == record_number,
        )
    )
    if patient is None:
        raise InvalidInput(
            _l("No patient has this medical record number. Check it and try again."),
            code=ErrorCode.PATIENT_NOT_FOUND,
        )
    return patient


def patient_by_id(patient_id: int) -> Patient | None:
    return db.session.get(Patient, patient_id)


def upcoming_extra_sessions(hospital_id: int, *, from_date: date) -> list[ClinicSession]:
    """The next 100 sessions added by hand (not from a weekly template), from a local day on."""
    return list(
        db.session.scalars(
            sa.select(ClinicSession)
            .where(
                ClinicSession.hospital_id == hospital_id,
                ClinicSession.template_id.is_(None),
                ClinicSession.local_date >= from_date,
            )
            .order_by(ClinicSession.local_date, ClinicSession.starts_at)
            .limit(100)
        ).all()
    )


def booked_not_arrived(service_point_id: int, local_day: date) -> list[datetime]:
    """Slot starts of the day's booked appointments at a service point not yet checked in."""
    return list(
        db.session.scalars(
            sa.select(Slot.starts_at)
            .join(Appointment, Appointment.slot_id == Slot.id)
            .join(ClinicSession, ClinicSession.id == Appointment.session_id)
            .where(
                ClinicSession.service_point_id == service_point_id,
                Appointment.local_date == local_day,
                Appointment.state == AppointmentState.BOOKED,
            )
            .order_by(Slot.starts_at)
        ).all()
    )


def appointments_of_visit(hospital_id: int, patient_id: int, day: date) -> list[Appointment]:
    """The patient's appointments on a local day that were booked (in any later state), or held."""
    return list(
        db.session.scalars(
            sa.select(Appointment)
            .join(ClinicSession, ClinicSession.id == Appointment.session_id)
            .where(
                Appointment.hospital_id == hospital_id,
                Appointment.patient_id == patient_id,
                Appointment.local_date == day,
                Appointment.state != AppointmentState.EXPIRED,
            )
            .order_by(ClinicSession.starts_at, Appointment.id)
        )
    )


def sessions_between(hospital_id: int, first: date, last: date) -> list[ClinicSession]:
    """Every session of the hospital from first to last (local dates), for the week grid."""
    return list(
        db.session.scalars(
            sa.select(ClinicSession)
            .where(
                ClinicSession.hospital_id == hospital_id,
                ClinicSession.local_date >= first,
                ClinicSession.local_date <= last,
            )
            .order_by(ClinicSession.local_date, ClinicSession.start_time)
        )
    )


def exceptions_between(hospital_id: int, first: date, last: date) -> list[ScheduleException]:
    """The closures and leave overlapping first..last."""
    return list(
        db.session.scalars(
            sa.select(ScheduleException).where(
                ScheduleException.hospital_id == hospital_id,
                ScheduleException.first_date <= last,
                ScheduleException.last_date >= first,
            )
        )
    )


SEEN_STATES = (AppointmentState.CHECKED_IN, AppointmentState.COMPLETED)


def recent_appointments_seen(
    hospital_id: int, patient_id: int, *, since: date
) -> list[tuple[Appointment, Department, Clinician | None]]:
    """The patient's appointments checked in or completed on or after a local day, newest first."""
    rows = db.session.execute(
        sa.select(Appointment, Department, Clinician)
        .join(ClinicSession, ClinicSession.id == Appointment.session_id)
        .join(Department, Department.id == ClinicSession.department_id)
        .outerjoin(Clinician, Clinician.id == ClinicSession.clinician_id)
        .where(
            Appointment.hospital_id == hospital_id,
            Appointment.patient_id == patient_id,
            Appointment.local_date >= since,
            Appointment.state.in_(SEEN_STATES),
        )
        .order_by(ClinicSession.starts_at.desc(), Appointment.id.desc())
    ).all()
    return [(a, d, c) for a, d, c in rows]


def clinicians_who_saw(hospital_id: int, patient_id: int, *, since: date) -> set[int]:
    """Ids of the clinicians who saw the patient (checked in or completed) since a local day."""
    return {
        c.id
        for _a, _d, c in recent_appointments_seen(hospital_id, patient_id, since=since)
        if c is not None
    }
