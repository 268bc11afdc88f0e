"""Checking a booked appointment in at the kiosk: its ticket in the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Device
from hospital.audit.service import record
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, NotFound
from hospital.visits.codes import looks_like_visit_code
from hospital.visits.services import refuse_at_station, resolve_code
from hospital.zones import local_date, zone_for
from kiosk.models import ActivityKind
from kiosk.services.devices import config, hospital_of, kiosk_of
from kiosk.services.identity import appointment_from_code, todays_appointments
from kiosk.services.throttle import check_rate, log_activity
from queueing.queries import (
    Ticket,
    latest_ticket_of_patients,
    people_ahead,
    ticket_for_appointment,
)
from queueing.services import issuing
from scheduling.services.places import effective_state
from scheduling.services.queries import AppointmentState, appointment_of_hospital

_STATE_PROBLEMS = {
    AppointmentState.CANCELLED: (
        ErrorCode.APPOINTMENT_CANCELLED,
        _l('This appointment was cancelled. To see a doctor today, choose "Register now".'),
    ),
    AppointmentState.EXPIRED: (
        ErrorCode.APPOINTMENT_EXPIRED,
        _l('This appointment was never paid and has lapsed. Choose "Register now" instead.'),
    ),
    AppointmentState.HELD: (
        ErrorCode.APPOINTMENT_UNPAID,
        _l("This appointment is not paid yet. Pay for it on your phone first, then check in."),
    ),
    AppointmentState.COMPLETED: (
        ErrorCode.APPOINTMENT_COMPLETED,
        _l("This appointment has already been seen by the doctor."),
    ),
    AppointmentState.NO_SHOW: (
        ErrorCode.APPOINTMENT_MISSED,
        _l("This appointment was missed. Please ask at the registration desk."),
    ),
}


@dataclass(frozen=True)
class IssuedTicket:
    ticket: Ticket
    new: bool
    ahead: int | None


def check_in(device: Device, appointment_id: int, *, now: datetime) -> IssuedTicket:
    """Check a booked appointment in at this kiosk: its ticket, the same one if done before."""
    appointment = appointment_of_hospital(device.hospital_id, appointment_id)
    if appointment is None:
        raise NotFound(
            _l("We could not find this appointment. Please ask at the registration desk."),
            code=ErrorCode.APPOINTMENT_NOT_FOUND,
        )
    hospital = hospital_of(device.hospital_id)
    state = effective_state(appointment, now=now)
    if state in _STATE_PROBLEMS:
        code, message = _STATE_PROBLEMS[state]
        raise Conflict(message, code=code)
    today = local_date(now, zone_for(hospital))
    if appointment.local_date != today:
        raise Conflict(
            _l(
                "This appointment is on %(day)s, not today. Please come back on that day.",
                day=appointment.local_date.isoformat(),
            ),
            code=ErrorCode.APPOINTMENT_OTHER_DAY,
        )
    existing = ticket_for_appointment(appointment.id)
    if existing is None:
        check_rate(
            device, ActivityKind.TICKET, int(config("KIOSK_TICKETS_PER_MINUTE", 30)), now=now
        )
    ticket, new = issuing.check_in(
        actor=None, hospital_id=device.hospital_id, appointment_id=appointment.id, now=now
    )
    if new:
        log_activity(device, ActivityKind.TICKET, ticket.id, now=now)
        record(
            action="kiosk.check_in",
            hospital_id=device.hospital_id,
            object_type="ticket",
            object_id=str(ticket.id),
            patient_id=appointment.patient_id,
            detail={"device_id": device.id, "appointment_id": appointment.id},
        )
    return IssuedTicket(ticket, new, people_ahead(ticket, now=now))


def check_in_with_code(device: Device, code: str, *, now: datetime) -> Ticket:
    """Check in the appointment a scanned QR code names (the queueing API's device check-in)."""
    kiosk_of(device)
    if looks_like_visit_code(code):
        return check_in_with_visit_code(device, code, now=now).ticket
    return check_in(device, appointment_from_code(device, code), now=now).ticket


def check_in_with_visit_code(device: Device, code: str, *, now: datetime) -> IssuedTicket:
    """The visit code at the kiosk: check in today's next appointment, else give today's ticket.

    One code does both check-in and reprint: a patient whose appointments are all checked in
    (or who came as a walk-in) gets the latest ticket of the day again.
    """
    visit = resolve_code(
        code, hospital_id=device.hospital_id, station="kiosk", now=now, device=device
    )
    choices = todays_appointments(device.hospital_id, [visit.patient_id], now=now)
    waiting = [c for c in choices if not c.checked_in]
    if waiting:
        return check_in(device, waiting[0].appointment_id, now=now)
    ticket = latest_ticket_of_patients(device.hospital_id, [visit.patient_id], visit.service_date)
    if ticket is None:
        refuse_at_station(
            station="kiosk",
            reason="nothing_today",
            hospital_id=device.hospital_id,
            device=device,
            visit=visit,
        )
        raise NotFound(
            _l("You have no appointment or ticket today. Please ask at the registration desk."),
            code=ErrorCode.NO_TICKET_TODAY,
        )
    return IssuedTicket(ticket, False, people_ahead(ticket, now=now))
