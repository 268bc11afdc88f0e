"""The queueing pages' blueprint, the words they share and the home tiles they add."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, request
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Role
from hospital.billing.services.queries import ItemCategory
from hospital.db import utcnow
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import ServicePointKind
from hospital.web.tiles import Tile, add_home_tile
from hospital.zones import local_date, zone_for
from queueing.models import TicketStatus

bp = Blueprint(
    "queueing_pages",
    __name__,
    root_path=str(Path(__file__).resolve().parent.parent),
    template_folder="templates",
)

# Sentences for the ordering policy's reason codes (console "why next").
REASONS = {
    "emergency": _l("Emergency: always first."),
    "priority_turn": _l("Priority patient: one is called after every %(ratio)s regular patients."),
    "only_priority_waiting": _l("Only priority patients are waiting."),
    "waited_long": _l(
        "Has waited %(waited_minutes)s minutes: no longer passed by priority patients."
    ),
    "booked_slot": _l("Booked appointment, arrived on time: ordered by slot time."),
    "arrival_order": _l("Ordered by arrival time."),
    "requeued_after_miss": _l("Missed a call and was moved back a few places."),
}
PRIORITIES = {
    "none": _l("Regular"),
    "emergency": _l("Emergency"),
    "elderly": _l("Aged"),
    "disability": _l("Disability"),
    "pregnancy": _l("Pregnancy"),
    "returning": _l("Returning with results"),
}
PASSING_REASONS = {
    "emergency": _l("Emergency"),
    "priority:elderly": _l("Priority turn: aged"),
    "priority:disability": _l("Priority turn: disability"),
    "priority:pregnancy": _l("Priority turn: pregnancy"),
    "priority:returning": _l("Priority turn: returning with results"),
    "booked_slot": _l("Booked time, arrived on time"),
    "requeued_after_miss": _l("Put back after a missed call"),
    "staff_decision": _l("Called out of order by staff"),
    "arrival_order": _l("Earlier place in line"),
    "waited_long": _l("Waited past the bound"),
}
STATUSES = {
    "waiting": _l("Waiting"),
    "called": _l("It is your turn"),
    "serving": _l("Being served"),
    "done": _l("Finished"),
    "no_show": _l("Missed"),
    "transferred": _l("Sent to another queue"),
    "cancelled": _l("Cancelled"),
}

# Headings for service points outside any department, by kind.
KINDS = {
    ServicePointKind.CONSULTATION_ROOM: _l("Consultation rooms"),
    ServicePointKind.REGISTRATION_DESK: _l("Registration desks"),
    ServicePointKind.CASHIER: _l("Cashiers"),
    ServicePointKind.LAB_DRAW: _l("Blood draw"),
    ServicePointKind.PHARMACY: _l("Pharmacy"),
    ServicePointKind.IMAGING: _l("Imaging"),
}

# Tests a clinician orders from the console when a visit ends (paid from the patient's phone).
ORDERABLE = (ItemCategory.LAB_TEST, ItemCategory.IMAGING, ItemCategory.MEDICINE)
# Tickets still worth showing on the patient's phone.
OPEN_STATUSES = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)

add_home_tile(
    Tile(
        "queueing_pages.my_tickets",
        _l("My queue numbers"),
        _l("Your place in line today, live"),
        order=25,
    )
)


add_home_tile(
    Tile(
        "queueing_pages.desk",
        _l("Walk-in numbers at the desk"),
        _l("Registration desk: give a number to a patient who came without booking"),
        order=91,
        show_signed_out=False,
        staff_only=True,
    )
)
add_home_tile(
    Tile(
        "queueing_pages.console_index",
        _l("Queue consoles"),
        _l("Staff: find your counter and open or close today's queue"),
        order=90,
        show_signed_out=False,
        staff_only=True,
    )
)


def service_today() -> date:
    return local_date(utcnow(), zone_for(current_hospital()))


def form_int(name: str) -> Any:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else None


# Staff who print a service point's check-in poster.
POSTER_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.NURSE)
