"""Facade over `scheduling.services`, kept only while callers move to the modules there.

It re-exports the names the old single module offered; new code imports from
`scheduling.services.<concern>` instead. Remove it once no caller imports it.
"""

from __future__ import annotations

from scheduling.models import ExceptionKind
from scheduling.services.attendance import (
    active_suspension,
    active_suspensions,
    lift_suspension,
    mark_no_shows,
)
from scheduling.services.availability import (
    AvailableSession,
    AvailableSlot,
    search_availability,
    search_sessions,
)
from scheduling.services.booking import confirm, confirm_booking, hold, on_order_paid
from scheduling.services.changes import (
    add_on,
    cancel,
    check_in,
    complete,
    patient_cancel_deadline,
    reschedule,
)
from scheduling.services.materialise import materialise_slots
from scheduling.services.places import (
    effective_state,
    release_expired_holds,
    release_lapsed_holds_on_slot,
)
from scheduling.services.queries import (
    appointments_for_account,
    calendar_entry,
    day_list,
    get_appointment,
    list_exceptions,
    list_templates,
)
from scheduling.services.rules import (
    DESK_ROLES,
    SCHEDULE_ROLES,
    Rules,
    hospital_zone,
    rules_for,
    set_rules,
)
from scheduling.services.templates import (
    TEMPLATE_DEFAULTS,
    TEMPLATE_FIELDS,
    add_exception,
    add_extra_session,
    cancel_session,
    create_template,
    update_template,
)

__all__ = [
    "DESK_ROLES",
    "SCHEDULE_ROLES",
    "TEMPLATE_DEFAULTS",
    "TEMPLATE_FIELDS",
    "AvailableSession",
    "AvailableSlot",
    "ExceptionKind",
    "Rules",
    "active_suspension",
    "active_suspensions",
    "add_exception",
    "add_extra_session",
    "add_on",
    "appointments_for_account",
    "calendar_entry",
    "cancel",
    "cancel_session",
    "check_in",
    "complete",
    "confirm",
    "confirm_booking",
    "create_template",
    "day_list",
    "effective_state",
    "get_appointment",
    "hold",
    "hospital_zone",
    "lift_suspension",
    "list_exceptions",
    "list_templates",
    "mark_no_shows",
    "materialise_slots",
    "on_order_paid",
    "patient_cancel_deadline",
    "release_expired_holds",
    "release_lapsed_holds_on_slot",
    "reschedule",
    "rules_for",
    "search_availability",
    "search_sessions",
    "set_rules",
    "update_template",
]
