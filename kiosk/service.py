"""A facade kept while callers move: the kiosk's operations now live in `kiosk/services/`.

Import from the module that owns an operation (`kiosk.services.check_in`, `.walk_ins`, ...).
Importing this facade also imports every one of them, which registers the kiosk's message
template, its session hooks and its `order_paid` receiver, as importing the old module did.
"""

from __future__ import annotations

from hospital.errors import Conflict
from kiosk.services.check_in import IssuedTicket, check_in, check_in_with_code
from kiosk.services.devices import (
    KioskRow,
    call_staff,
    kiosk_of,
    list_kiosks,
    open_help_requests,
    register_kiosk,
    resolve_help_request,
    touch,
    update_printer,
)
from kiosk.services.identity import (
    CONFIRM_SALT,
    KIOSK_CODE_TEMPLATE,
    AppointmentChoice,
    appointment_from_code,
    confirmation_token,
    confirmed_phone,
    keep_fruitless_lookup,
    no_appointment_today,
    no_record_for_walk_in,
    normalized_phone,
    patient_for_identity,
    patients_for_phone,
    people_for_phone,
    send_code,
    todays_appointments,
    verify_code,
)
from kiosk.services.report_printing import ReportChoice, released_reports, report_pdf
from kiosk.services.same_day_booking import (
    WalkInBooking,
    book_walk_in,
    next_slot_today,
    next_slots_today,
    walk_in_booking_ticket,
)
from kiosk.services.slips import (
    PRINTER_MESSAGES,
    PrintOutcome,
    last_ticket,
    print_slip,
    ticket_for_kiosk,
    ticket_slip,
)
from kiosk.services.throttle import prune
from kiosk.services.walk_ins import (
    WalkInChoice,
    WalkInPayment,
    cancel_walk_in,
    expire_walk_ins,
    on_order_paid,
    start_paid_walk_in,
    walk_in,
    walk_in_departments,
    walk_in_ticket,
)
from queueing.queries import people_ahead

__all__ = [
    "CONFIRM_SALT",
    "KIOSK_CODE_TEMPLATE",
    "PRINTER_MESSAGES",
    "AppointmentChoice",
    "Conflict",
    "IssuedTicket",
    "KioskRow",
    "PrintOutcome",
    "ReportChoice",
    "WalkInBooking",
    "WalkInChoice",
    "WalkInPayment",
    "appointment_from_code",
    "book_walk_in",
    "call_staff",
    "cancel_walk_in",
    "check_in",
    "check_in_with_code",
    "confirmation_token",
    "confirmed_phone",
    "expire_walk_ins",
    "keep_fruitless_lookup",
    "kiosk_of",
    "last_ticket",
    "list_kiosks",
    "next_slot_today",
    "next_slots_today",
    "no_appointment_today",
    "no_record_for_walk_in",
    "normalized_phone",
    "on_order_paid",
    "open_help_requests",
    "patient_for_identity",
    "patients_for_phone",
    "people_ahead",
    "people_for_phone",
    "print_slip",
    "prune",
    "register_kiosk",
    "released_reports",
    "report_pdf",
    "resolve_help_request",
    "send_code",
    "start_paid_walk_in",
    "ticket_for_kiosk",
    "ticket_slip",
    "todays_appointments",
    "touch",
    "update_printer",
    "verify_code",
    "walk_in",
    "walk_in_booking_ticket",
    "walk_in_departments",
    "walk_in_ticket",
]
