"""Demo schedules: every demo clinician gets two weeks of sessions, a few of them nearly full."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from hospital.accounts.models import Account, AccountRole, Role
from hospital.db import db
from hospital.organisation.models import (
    Clinician,
    ClinicianTitle,
    Department,
    Hospital,
    ServicePoint,
    ServicePointKind,
)
from hospital.patients.models import IdentityType, Patient, Sex
from hospital.patients.services.records import assign_medical_record_number
from scheduling.models import FeeClass, SessionTemplate
from scheduling.services.availability import search_availability
from scheduling.services.booking import confirm_booking, hold
from scheduling.services.materialise import materialise_slots
from scheduling.services.templates import create_template

# (title) -> fee class and registration fee in fen
FEES = {
    ClinicianTitle.CHIEF_PHYSICIAN: (FeeClass.EXPERT, 5000),
    ClinicianTitle.ASSOCIATE_CHIEF_PHYSICIAN: (FeeClass.EXPERT, 3000),
}
GENERAL_FEE = (FeeClass.GENERAL, 1000)
# How many booked places to put into the first sessions of the most senior clinicians.
NEARLY_FULL_PLACES = 14


# Departments whose demo clinicians work around the clock, every day (the emergency clinic).
ROUND_THE_CLOCK = ("JZ",)


def seed_schedules(hospital: Hospital, *, now: datetime) -> None:
    """Give every clinician weekday mornings (and Tue/Thu afternoons); fill a few sessions."""
    if db.session.scalar(
        sa.select(sa.func.count()).where(SessionTemplate.hospital_id == hospital.id)
    ):
        return
    admin = db.session.scalar(
        sa.select(Account)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .where(Account.hospital_id == hospital.id, AccountRole.role == Role.ADMIN)
        .limit(1)
    )
    if admin is None:
        return
    clinicians = db.session.scalars(
        sa.select(Clinician).where(Clinician.hospital_id == hospital.id).order_by(Clinician.id)
    ).all()
    rooms = db.session.scalars(
        sa.select(ServicePoint).where(
            ServicePoint.hospital_id == hospital.id,
            ServicePoint.kind == ServicePointKind.CONSULTATION_ROOM,
        )
    ).all()
    around_the_clock = set(
        db.session.scalars(
            sa.select(Department.id).where(
                Department.hospital_id == hospital.id, Department.code.in_(ROUND_THE_CLOCK)
            )
        )
    )
    for clinician in clinicians:
        fee_class, fee = FEES.get(clinician.title, GENERAL_FEE)
        room = next((r for r in rooms if r.department_id == clinician.department_id), None)
        hours = [(weekday, time(8), time(12)) for weekday in range(5)]
        hours += [(weekday, time(14), time(17)) for weekday in (1, 3)]
        if clinician.department_id in around_the_clock:
            # Three shifts every day of the week, so the demo has places today at any hour.
            shifts = ((time(0), time(8)), (time(8), time(16)), (time(16), time(23, 59)))
            hours = [(weekday, start, end) for weekday in range(7) for start, end in shifts]
        for weekday, start, end in hours:
            create_template(
                hospital.id,
                {
                    "department_id": clinician.department_id,
                    "clinician_id": clinician.id,
                    "service_point_id": room.id if room else None,
                    "weekday": weekday,
                    "start_time": start,
                    "end_time": end,
                    "slot_minutes": 15,
                    "capacity": 1 if fee_class is FeeClass.EXPERT else 2,
                    "fee_class": fee_class,
                    "fee_fen": fee,
                    "booking_opens_days": 14,
                    "release_time": time(7),
                    "valid_from": date(2020, 1, 1),
                },
                actor=admin,
                now=now,
            )
    materialise_slots(now=now, hospital_id=hospital.id)
    _fill_popular_sessions(hospital, clinicians, now=now)


def _fill_popular_sessions(
    hospital: Hospital, clinicians: Sequence[Clinician], *, now: datetime
) -> None:
    """Book most places of the senior clinicians' next session, as the registration desk would."""
    registrar = db.session.scalar(
        sa.select(Account)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .where(Account.hospital_id == hospital.id, AccountRole.role == Role.REGISTRAR)
        .limit(1)
    )
    if registrar is None:
        return
    seniors = [c for c in clinicians if c.title is ClinicianTitle.CHIEF_PHYSICIAN][:2]
    walk_ins = [
        Patient(
            hospital_id=hospital.id,
            name=f"示例患者{n:02d}",
            sex=Sex.FEMALE if n % 2 else Sex.MALE,
            birth_date=date(1960 + n, 1 + n % 12, 1 + n % 27),
            id_type=IdentityType.PASSPORT,
            id_number=f"DEMO{n:05d}",
            created_at=now,
        )
        for n in range(NEARLY_FULL_PLACES)
    ]
    db.session.add_all(walk_ins)
    db.session.flush()
    for patient in walk_ins:
        assign_medical_record_number(patient)
    first, last = now.date(), now.date() + timedelta(days=14)
    for clinician in seniors:
        slots = search_availability(
            hospital.id,
            first_date=first,
            last_date=last,
            clinician_id=clinician.id,
            only_bookable=True,
            now=now,
        )
        if not slots:
            continue
        session_id = slots[0].session_id
        targets = [s for s in slots if s.session_id == session_id][:NEARLY_FULL_PLACES]
        for slot, patient in zip(targets, walk_ins, strict=False):
            appointment = hold(
                actor=registrar, patient_id=patient.id, slot_id=slot.slot_id, now=now
            )
            confirm_booking(appointment.id, now=now)
