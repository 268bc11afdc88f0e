"""Search the slots and sessions still open for booking, with their places left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Clinician
from scheduling.models import (
    Appointment,
    AppointmentState,
    ClinicSession,
    FeeClass,
    SessionStatus,
    Slot,
)


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


def _lapsed_holds(*, now: datetime) -> Any:
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
    lapsed = _lapsed_holds(now=now)
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
    lapsed = _lapsed_holds(now=now)
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
