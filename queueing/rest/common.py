"""The queueing API's blueprint and the payload helpers its route modules share."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hospital.accounts.models import STAFF_ROLES
from queueing.models import Ticket
from queueing.schemas import TicketOut
from queueing.services import calling, notify

blp = Blueprint(
    "queueing", __name__, description="Virtual queues: tickets, calling, boards, live events."
)

STAFF = tuple(STAFF_ROLES)
# An event stream ends after this; EventSource reconnects and gets a snapshot. (Here, not in
# streams.py: only queueing/api.py imports the route modules, so that they register in order.)
STREAM_SECONDS = 600.0

# One instance: building a schema costs more than dumping a ticket with it.
TICKET_OUT = TicketOut()


def ticket_out(ticket: Ticket) -> dict[str, Any]:
    data: dict[str, Any] = TICKET_OUT.dump(ticket)
    data["link"] = notify.ticket_link(ticket)
    return data


def call_out(result: calling.CallResult) -> dict[str, Any]:
    return {
        "ticket": ticket_out(result.ticket) if result.ticket else None,
        "repeated": result.repeated,
        "reason": result.reason,
        "detail": result.detail or {},
    }
