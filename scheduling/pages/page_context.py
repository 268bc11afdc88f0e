"""What every scheduling page is rendered with: names of fee classes, states and weekdays, money."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from hospital.db import utcnow
from hospital.zones import local_date
from scheduling.models import AppointmentState, ExceptionKind, FeeClass, TimeBand, WaitlistState
from scheduling.services.places import effective_state
from scheduling.services.rules import hospital_zone

SEARCH_DAYS = 14

FEE_CLASSES = {
    FeeClass.GENERAL: _l("General clinic"),
    FeeClass.EXPERT: _l("Expert clinic"),
    FeeClass.SPECIAL_NEEDS: _l("Special-needs clinic"),
}
STATES = {
    AppointmentState.HELD: _l("Held, not yet confirmed"),
    AppointmentState.BOOKED: _l("Booked"),
    AppointmentState.CHECKED_IN: _l("Checked in"),
    AppointmentState.COMPLETED: _l("Seen"),
    AppointmentState.CANCELLED: _l("Cancelled"),
    AppointmentState.EXPIRED: _l("Hold lapsed"),
    AppointmentState.NO_SHOW: lazy_pgettext("appointment", "Missed"),
}
WEEKDAYS = [
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
]
CHECK_THE_FIELDS = _l("Some fields need your attention. Check them below.")
BANDS = {
    TimeBand.ANY: "",
    TimeBand.MORNING: _l("morning"),
    TimeBand.AFTERNOON: _l("afternoon"),
    TimeBand.EVENING: _l("evening"),
}
WAITLIST_STATES = {
    WaitlistState.WAITING: lazy_pgettext("waitlist", "Waiting"),
    WaitlistState.OFFERED: _l("Place offered"),
    WaitlistState.FULFILLED: _l("Booked from the waitlist"),
    WaitlistState.LEFT: _l("Left the waitlist"),
    WaitlistState.REMOVED: _l("Removed after offers lapsed"),
    WaitlistState.ENDED: _l("Dates passed"),
}
EXCEPTION_KINDS = {ExceptionKind.HOLIDAY: _l("Public holiday"), ExceptionKind.LEAVE: _l("Leave")}


def page_context() -> dict[str, Any]:
    return {
        "fee_classes": FEE_CLASSES,
        "states": STATES,
        "weekdays": WEEKDAYS,
        "bands": BANDS,
        "waitlist_states": WAITLIST_STATES,
        "effective_state": lambda a: effective_state(a, now=utcnow()),
    }


def local_today(hospital_id: int) -> date:
    """Today in the hospital's time zone."""
    return local_date(utcnow(), hospital_zone(hospital_id))
