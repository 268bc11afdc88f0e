"""Connect visits to the application: the signals that start a visit and count its stops."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask

from hospital import events
from hospital.db import db
from hospital.organisation.models import ServicePoint, ServicePointKind
from hospital.visits.services import (
    hospital_day,
    latest_visit_until,
    note_stop_avoided,
    visit_for,
    visit_of,
)

# Service points where a patient used to stand in line for a number after the doctor's order.
STATION_KINDS = frozenset(
    {ServicePointKind.LAB_DRAW, ServicePointKind.PHARMACY, ServicePointKind.IMAGING}
)


def on_appointment_booked(
    _sender: Any,
    *,
    hospital_id: int,
    starts_at: datetime,
    now: datetime,
    patient_id: int | None = None,
    department_id: int | None = None,
    online: bool = False,
    **_kw: Any,
) -> None:
    """A booked slot starts the visit of its day (the slot's day, not the booking's)."""
    if patient_id is None:
        return
    day = hospital_day(hospital_id, starts_at)
    visit = visit_for(
        hospital_id=hospital_id,
        patient_id=patient_id,
        service_date=day,
        now=now,
        department_id=department_id,
    )
    if online:
        note_stop_avoided(
            hospital_id=hospital_id,
            patient_id=patient_id,
            service_date=day,
            now=now,
            stop="registration",
            visit=visit,
        )


def on_visit_checked_in(
    _sender: Any,
    *,
    hospital_id: int,
    now: datetime,
    patient_id: int | None = None,
    department_id: int | None = None,
    service_point_id: int | None = None,
    **_kw: Any,
) -> None:
    """A ticket (checked-in appointment, walk-in, same-day or station number) joins today's visit."""
    if patient_id is None:
        return  # an anonymous walk-in has no visit
    day = hospital_day(hospital_id, now)
    point = db.session.get(ServicePoint, service_point_id) if service_point_id else None
    station = point is not None and point.kind in STATION_KINDS
    visit = visit_for(
        hospital_id=hospital_id,
        patient_id=patient_id,
        service_date=day,
        now=now,
        department_id=None if station else department_id,
    )
    note_stop_avoided(
        hospital_id=hospital_id,
        patient_id=patient_id,
        service_date=day,
        now=now,
        stop="station_number" if station else "waiting_hall",
        visit=visit,
    )


def on_payment_received(
    _sender: Any,
    *,
    hospital_id: int,
    now: datetime,
    patient_id: int | None = None,
    online: bool = False,
    **_kw: Any,
) -> None:
    """Paying from the phone replaced the cashier's window for today's visit (if one started)."""
    if patient_id is None or not online:
        return
    day = hospital_day(hospital_id, now)
    if visit_of(hospital_id, patient_id, day) is None:
        return  # e.g. a booking paid days ahead: its visit counts the registration, not this
    note_stop_avoided(
        hospital_id=hospital_id, patient_id=patient_id, service_date=day, now=now, stop="cashier"
    )


def on_report_released(
    _sender: Any, *, hospital_id: int, patient_id: int, now: datetime, **_kw: Any
) -> None:
    """A report online replaced the report window, for the patient's latest visit up to today."""
    visit = latest_visit_until(hospital_id, patient_id, hospital_day(hospital_id, now))
    if visit is None:
        return
    note_stop_avoided(
        hospital_id=hospital_id,
        patient_id=patient_id,
        service_date=visit.service_date,
        now=now,
        stop="report_window",
    )


def connect(app: Flask) -> None:
    """Connect the receivers; a second call changes nothing (blinker keeps one of each)."""
    events.appointment_booked.connect(on_appointment_booked)
    events.visit_checked_in.connect(on_visit_checked_in)
    events.payment_received.connect(on_payment_received)
    events.report_released.connect(on_report_released)
