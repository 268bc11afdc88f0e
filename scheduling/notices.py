"""Messages about appointments, written to the outbox in the same transaction as their cause."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.db import db
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify_patient
from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.access import Permission
from hospital.patients.models import Patient
from hospital.zones import local_date, zone_for

BOOKING_CONFIRMED = "scheduling.booking_confirmed"
CANCELLED_BY_HOSPITAL = "scheduling.cancelled_by_hospital"
REMINDER = "scheduling.reminder"

MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    BOOKING_CONFIRMED: MessageTemplate(
        subject=_l("Appointment confirmed"),
        body=_l(
            "{hospital}: the appointment of {patient} with {clinician} ({department}) on {when} is "
            "confirmed. Please check in from {checkin} at {place}."
        ),
    ),
    CANCELLED_BY_HOSPITAL: MessageTemplate(
        subject=_l("Appointment cancelled by the hospital"),
        body=_l(
            "{hospital}: we are sorry, the appointment of {patient} with {clinician} on {when} was "
            "cancelled ({reason}). Any fee paid is refunded in full. Please book another time."
        ),
    ),
    REMINDER: MessageTemplate(
        subject=_l("Appointment tomorrow"),
        body=_l(
            "{hospital}: reminder, {patient} has an appointment with {clinician} ({department}) "
            "tomorrow, {when}. Please check in from {checkin} at {place}."
        ),
    ),
}


def _context(appointment: Any) -> tuple[Patient, dict[str, str]]:
    slot = appointment.slot
    session = slot.session
    hospital = db.session.get_one(Hospital, appointment.hospital_id)
    zone = zone_for(hospital)
    patient = db.session.get_one(Patient, appointment.patient_id)
    clinician = db.session.get(Clinician, session.clinician_id) if session.clinician_id else None
    department = db.session.get(Department, session.department_id)
    point = (
        db.session.get(ServicePoint, session.service_point_id) if session.service_point_id else None
    )
    starts = slot.starts_at.astimezone(zone)
    checkin = (slot.starts_at - timedelta(minutes=session.checkin_opens_minutes)).astimezone(zone)
    place = (
        " ".join(p for p in (point.name_zh, point.building, point.room) if p)
        if point
        else hospital.name_zh
    )
    return patient, {
        "hospital": hospital.name_zh,
        "patient": patient.name,
        "clinician": clinician.name_zh if clinician else (point.name_zh if point else ""),
        "department": department.name_zh if department else "",
        "when": starts.strftime("%Y-%m-%d %H:%M"),
        "checkin": checkin.strftime("%H:%M"),
        "place": place,
    }


def message_context(appointment: Any) -> tuple[Patient, dict[str, str]]:
    """The patient and the placeholders every appointment message fills in."""
    return _context(appointment)


def booking_confirmed(appointment: Any, *, now: datetime) -> None:
    patient, context = _context(appointment)
    notify_patient(
        patient,
        BOOKING_CONFIRMED,
        context,
        now=now,
        dedupe_key=f"appointment:{appointment.id}:booked:{appointment.sequence}",
        family_permission=Permission.BOOK,
    )


def cancelled_by_hospital(appointment_id: int, *, note: str, now: datetime) -> None:
    from scheduling.models import Appointment

    appointment = db.session.get(Appointment, appointment_id)
    patient, context = _context(appointment)
    context["reason"] = note or str(_l("unforeseen change"))
    notify_patient(
        patient,
        CANCELLED_BY_HOSPITAL,
        context,
        now=now,
        dedupe_key=f"appointment:{appointment_id}:cancelled",
        family_permission=Permission.BOOK,
    )


def send_reminders(*, now: datetime) -> int:
    """Remind every booking whose slot is tomorrow, local time (once each)."""
    from scheduling.models import Appointment, AppointmentState

    sent = 0
    for hospital in db.session.scalars(sa.select(Hospital)).all():
        tomorrow = local_date(now, zone_for(hospital)) + timedelta(days=1)
        appointments = db.session.scalars(
            sa.select(Appointment).where(
                Appointment.hospital_id == hospital.id,
                Appointment.local_date == tomorrow,
                Appointment.state == AppointmentState.BOOKED,
            )
        ).all()
        for appointment in appointments:
            patient, context = _context(appointment)
            written = notify_patient(
                patient,
                REMINDER,
                context,
                now=now,
                dedupe_key=f"appointment:{appointment.id}:reminder:{appointment.local_date}",
                family_permission=Permission.BOOK,
            )
            sent += 1 if written else 0
    return sent
