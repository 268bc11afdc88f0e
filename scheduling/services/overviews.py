"""Read what a scheduling page shows in one call: a department's days, a session, a staff day.

Also an account's appointments with their details, and the times an appointment may move to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.organisation.models import Clinician, Department
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.models import Patient
from scheduling.models import Appointment, ClinicSession
from scheduling.services.availability import (
    AvailableSession,
    AvailableSlot,
    search_availability,
    search_sessions,
)
from scheduling.services.changes import patient_cancel_deadline
from scheduling.services.places import effective_state
from scheduling.services.queries import appointments_for_account, clinicians_of, day_list
from scheduling.services.rules import hospital_zone, rules_for


@dataclass(frozen=True)
class DepartmentDays:
    department: Department
    days: list[tuple[date, list[AvailableSession]]]
    clinicians: dict[int, Clinician]  # the department's clinicians, for their title and specialty


def department_days(
    hospital_id: int, department_id: int, *, first_date: date, last_date: date, now: datetime
) -> DepartmentDays:
    """A department's sessions open for booking between two local days, day by day."""
    department = db.session.get(Department, department_id)
    if department is None or department.hospital_id != hospital_id:
        raise NotFound(_l("No such department."), code=ErrorCode.DEPARTMENT_NOT_FOUND)
    by_day: dict[date, list[AvailableSession]] = {}
    for session in search_sessions(
        hospital_id,
        first_date=first_date,
        last_date=last_date,
        department_id=department.id,
        now=now,
    ):
        by_day.setdefault(session.local_date, []).append(session)
    clinicians = {
        c.id: c
        for c in db.session.scalars(
            sa.select(Clinician).where(Clinician.department_id == department.id)
        )
    }
    return DepartmentDays(department, sorted(by_day.items()), clinicians)


@dataclass(frozen=True)
class SessionToBook:
    session: ClinicSession
    clinician: Clinician | None
    department: Department | None
    slots: list[AvailableSlot]
    patients: list[Patient]


def session_to_book(session_id: int, *, actor: Account, now: datetime) -> SessionToBook:
    """One clinic session with its slots, and the patients the account may book for."""
    session = db.session.get(ClinicSession, session_id)
    if session is None or session.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such clinic session."), code=ErrorCode.SESSION_NOT_FOUND)
    slots = [
        s
        for s in search_availability(
            actor.hospital_id,
            first_date=session.local_date,
            last_date=session.local_date,
            clinician_id=session.clinician_id,
            department_id=session.department_id,
            now=now,
        )
        if s.session_id == session.id
    ]
    patients = patients_acting_for(actor, Permission.BOOK)
    return SessionToBook(
        session=session,
        clinician=db.session.get(Clinician, session.clinician_id) if session.clinician_id else None,
        department=db.session.get(Department, session.department_id),
        slots=slots,
        patients=patients,
    )


@dataclass
class AppointmentDetails:
    """An appointment with the names a page shows beside it."""

    appointment: Appointment
    session: ClinicSession
    patient: Patient | None
    clinician: Clinician | None
    department: Department | None
    cancel_until: datetime


def appointment_details(appointment: Appointment) -> AppointmentDetails:
    session = appointment.slot.session
    rules = rules_for(appointment.hospital_id)
    zone = hospital_zone(appointment.hospital_id)
    return AppointmentDetails(
        appointment=appointment,
        session=session,
        patient=db.session.get(Patient, appointment.patient_id),
        clinician=db.session.get(Clinician, session.clinician_id) if session.clinician_id else None,
        department=db.session.get(Department, session.department_id),
        cancel_until=patient_cancel_deadline(appointment, zone, rules),
    )


@dataclass(frozen=True)
class AccountAppointments:
    """An account's appointments, the patients it acts for, and each appointment's details."""

    appointments: list[Appointment]
    patients: dict[int, Patient]
    details: dict[int, AppointmentDetails]


def account_appointments(*, actor: Account, now: datetime) -> AccountAppointments:
    """The account's appointments as a patient reads them: the coming ones first, soonest first,
    then the past ones, latest first."""
    found = appointments_for_account(actor=actor, now=now)
    coming = sorted(
        (a for a in found if a.slot.ends_at > now), key=lambda a: (a.slot.starts_at, a.id)
    )
    past = [a for a in found if a.slot.ends_at <= now]  # already latest first
    appointments = coming + past
    return AccountAppointments(
        appointments=appointments,
        patients={p.id: p for p in patients_acting_for(actor, Permission.VIEW)},
        details={a.id: appointment_details(a) for a in appointments},
    )


def reschedule_choices(
    hospital_id: int,
    appointment: Appointment,
    *,
    first_date: date,
    last_date: date,
    now: datetime,
) -> list[AvailableSlot]:
    """Other bookable slots of the same clinician, fee class and fee between two local days."""
    session = appointment.slot.session
    return [
        s
        for s in search_availability(
            hospital_id,
            first_date=first_date,
            last_date=last_date,
            clinician_id=session.clinician_id,
            department_id=session.department_id,
            fee_class=appointment.fee_class,
            only_bookable=True,
            now=now,
        )
        if s.fee_fen == appointment.fee_fen and s.slot_id != appointment.slot_id
    ]


@dataclass(frozen=True)
class StaffDay:
    clinicians: list[Clinician]
    clinician_id: int | None
    appointments: list[Appointment]
    sessions: list[ClinicSession]
    slots: list[AvailableSlot]
    patients: dict[int, Patient]
    counts: dict[str, int]


def staff_day(
    *, actor: Account, clinician_id: int | None, local_date: date, now: datetime
) -> StaffDay:
    """A clinician's day for the desk (the first active clinician's when none is chosen)."""
    clinicians = clinicians_of(actor.hospital_id, active_only=True)
    clinician_id = clinician_id or (clinicians[0].id if clinicians else None)
    appointments = (
        day_list(actor=actor, clinician_id=clinician_id, local_date=local_date)
        if clinician_id
        else []
    )
    sessions = db.session.scalars(
        sa.select(ClinicSession)
        .where(ClinicSession.clinician_id == clinician_id, ClinicSession.local_date == local_date)
        .order_by(ClinicSession.starts_at)
    ).all()
    slots = (
        search_availability(
            actor.hospital_id,
            first_date=local_date,
            last_date=local_date,
            clinician_id=clinician_id,
            now=now - timedelta(hours=24),
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
        state = effective_state(appointment, now=now).value
        counts[state] = counts.get(state, 0) + 1
    return StaffDay(
        clinicians=clinicians,
        clinician_id=clinician_id,
        appointments=appointments,
        sessions=list(sessions),
        slots=slots,
        patients=patients,
        counts=counts,
    )


@dataclass(frozen=True)
class WaitlistChoice:
    """What the phone's waitlist form offers: a department, perhaps one of its clinicians."""

    department: Department
    clinician: Clinician | None
    patients: list[Patient]


def waitlist_choice(
    department_id: int, clinician_id: int | None, *, actor: Account
) -> WaitlistChoice:
    """The department (and clinician) a patient may wait for over a range of dates."""
    department = db.session.get(Department, department_id)
    if department is None or department.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such department."), code=ErrorCode.UNKNOWN_DEPARTMENT)
    clinician = None
    if clinician_id is not None:
        clinician = db.session.get(Clinician, clinician_id)
        if clinician is None or clinician.department_id != department.id:
            raise NotFound(_l("No such clinician."), code=ErrorCode.UNKNOWN_CLINICIAN)
    return WaitlistChoice(department, clinician, patients_acting_for(actor, Permission.BOOK))
