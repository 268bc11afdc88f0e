"""Queue operations (facade kept while callers move to `queueing.services`).

Every name callers outside the package used is re-exported from the module that now holds it:
queues, issuing, counters, line, calling, serving, notify. Importing this module also imports
notify, which registers the queue message templates.
"""

from __future__ import annotations

from queueing.services.calling import (
    CallResult,
    call_next,
    call_ticket,
    mark_missed,
    recall,
    release_expired_leases,
)
from queueing.services.counters import audit_console_read, counter_for_staff, create_counter
from queueing.services.issuing import (
    CHECK_IN_ROLES,
    audit_staff_check_in,
    check_in,
    issue_for_appointment,
    issue_walk_in,
    require_check_in_role,
)
from queueing.services.line import LINE_HEAD, InLine, as_waiting, policy_for
from queueing.services.notify import set_notify_ahead, ticket_by_token, ticket_link
from queueing.services.queues import (
    PREFIXES,
    close_queue,
    find_queue,
    may_work_at,
    open_queue,
    open_queues_on,
    open_todays_queues,
    require_may_work,
)
from queueing.services.serving import complete, set_paused, start, transfer

__all__ = [
    "CHECK_IN_ROLES",
    "CallResult",
    "InLine",
    "LINE_HEAD",
    "PREFIXES",
    "as_waiting",
    "audit_console_read",
    "audit_staff_check_in",
    "call_next",
    "call_ticket",
    "check_in",
    "close_queue",
    "complete",
    "counter_for_staff",
    "create_counter",
    "find_queue",
    "issue_for_appointment",
    "issue_walk_in",
    "mark_missed",
    "may_work_at",
    "open_queue",
    "open_queues_on",
    "open_todays_queues",
    "policy_for",
    "recall",
    "release_expired_leases",
    "require_check_in_role",
    "require_may_work",
    "set_notify_ahead",
    "set_paused",
    "start",
    "ticket_by_token",
    "ticket_link",
    "transfer",
]
