"""A walk-in booked into the department's next same-day slot, paid from the patient's phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Device
from hospital.audit.service import record
from hospital.billing.references import OrderRef
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, NotFound
from hospital.zones import local_date, zone_for
from kiosk.models import ActivityKind
from kiosk.services.check_in import IssuedTicket, check_in
from kiosk.services.devices import config, hospital_of
from kiosk.services.identity import patients_for_phone, phone_account, walk_in_patient
from kiosk.services.throttle import check_rate
from scheduling.services.places import effective_state
from scheduling.services.queries import (
    AppointmentState,
    appointment_of_hospital,
    sessions_with_a_room,
)


@dataclass(frozen=True)
class WalkInBooking:
    appointment_id: int
    starts_at: datetime
    fee_fen: int
    pay_url: str  # empty when nothing is to be paid


def next_slots_today(
    hospital_id: int, *, now: datetime, department_id: int | None = None
) -> dict[int, Any]:
    """Each department's next bookable slot today whose session has a room (two queries)."""
    from scheduling.services.availability import search_availability

    day = local_date(now, zone_for(hospital_of(hospital_id)))
    slots = search_availability(
        hospital_id,
        first_date=day,
        last_date=day,
        now=now,
        department_id=department_id,
        only_bookable=True,
    )
    if not slots:
        return {}
    with_room = sessions_with_a_room({s.session_id for s in slots})
    first: dict[int, Any] = {}
    for slot in slots:  # in start order
        if slot.session_id in with_room:
            first.setdefault(slot.department_id, slot)
    return first


def next_slot_today(hospital_id: int, department_id: int, *, now: datetime) -> Any:
    """The department's next bookable slot today whose session has a room, or None."""
    return next_slots_today(hospital_id, now=now, department_id=department_id).get(department_id)


def book_walk_in(
    device: Device,
    department_id: int,
    *,
    phone: str,
    now: datetime,
    patient_id: int | None = None,
) -> WalkInBooking:
    """Hold the department's next slot today for the phone's owner (or a family member)."""
    from hospital.billing.services.queries import order_for
    from scheduling.services import booking as scheduling_service

    account = phone_account(device, phone)
    patient = walk_in_patient(device.hospital_id, phone, patient_id, account=account)
    slot = next_slot_today(device.hospital_id, department_id, now=now)
    if slot is None:
        raise NotFound(
            _l("There is no free appointment left today in this department."),
            code=ErrorCode.NO_SLOT_TODAY,
        )
    check_rate(device, ActivityKind.TICKET, int(config("KIOSK_TICKETS_PER_MINUTE", 30)), now=now)
    appointment = scheduling_service.hold(
        actor=account, patient_id=patient.id, slot_id=slot.slot_id, now=now
    )
    record(
        action="kiosk.walk_in_hold",
        device=device,
        hospital_id=device.hospital_id,
        object_type="appointment",
        object_id=str(appointment.id),
        patient_id=patient.id,
    )
    if appointment.fee_fen <= 0:
        scheduling_service.confirm(appointment.id, actor=account, now=now)
        return WalkInBooking(appointment.id, slot.starts_at, 0, "")
    order = order_for(device.hospital_id, OrderRef.appointment(appointment.id))
    if order is None:
        raise Conflict(
            _l("The fee for this appointment could not be prepared. Please ask at the desk."),
            code=ErrorCode.ORDER_MISSING,
        )
    started = start_phone_payment(order.id, account=account, key=f"kiosk:{appointment.id}", now=now)
    return WalkInBooking(appointment.id, slot.starts_at, order.self_pay_fen, started.redirect_url)


def start_phone_payment(order_id: int, *, account: Account, key: str, now: datetime) -> Any:
    """Open the payment the patient completes by scanning the kiosk's QR with the phone."""
    from hospital.billing.services import payments
    from hospital.billing.services.queries import phone_payment_provider

    provider = phone_payment_provider(current_app.config)
    return payments.start_payment(
        order_id, actor=account, provider_name=provider, now=now, idempotency_key=key
    )


def walk_in_booking_ticket(
    device: Device, appointment_id: int, *, phone: str, now: datetime
) -> IssuedTicket | None:
    """Once the walk-in booking is paid, its ticket; None while the payment is still awaited."""
    appointment = appointment_of_hospital(device.hospital_id, appointment_id)
    allowed = {p.id for p in patients_for_phone(device.hospital_id, phone)}
    if appointment is None or appointment.patient_id not in allowed:
        raise NotFound(
            _l("We could not find this appointment. Please ask at the registration desk."),
            code=ErrorCode.APPOINTMENT_NOT_FOUND,
        )
    state = effective_state(appointment, now=now)
    if state is AppointmentState.HELD:
        return None
    if state is AppointmentState.EXPIRED:
        raise Conflict(
            _l(
                "The payment did not arrive in time and the place was released. Please start again."
            ),
            code=ErrorCode.PAYMENT_TOO_LATE,
        )
    return check_in(device, appointment.id, now=now)
