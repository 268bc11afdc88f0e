"""Counters: the staff console's data, calling, serving, undo, pause, alerts and thresholds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.organisation.lookup import current_hospital
from hospital.web.api_docs import json_response
from hospital.zones import local_date, zone_for
from queueing import snapshots
from queueing.models import CallRule, Counter, Ticket
from queueing.rest.common import STAFF, blp, call_out, ticket_out
from queueing.schemas import (
    AlertsOut,
    AlertThresholdsArgs,
    AlertThresholdsOut,
    CallOut,
    CallTicketArgs,
    CounterActionArgs,
    CounterCreateArgs,
    CounterOut,
    CounterQueuesArgs,
    CounterQueuesOut,
    PauseArgs,
    TicketOut,
    TransferArgs,
)
from queueing.services import alerting, calling, counters, queues, serving
from queueing.services import undo as undo_service

# ---- counters -------------------------------------------------------------------------------

# The console's answer, as far as its clients rely on it: the queue and the counter's current
# ticket (null before the queue opens today), the waiting list in calling order, and when the
# queue is open the counters and the service-time estimate.
CONSOLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["queue", "counter", "current", "waiting"],
    "properties": {
        "queue": {"type": "object", "nullable": True},
        "counter": {"type": "object", "nullable": True},
        "current": {"type": "object", "nullable": True},
        "waiting": {"type": "array", "items": {"type": "object"}},
        "counters": {"type": "array", "items": {"type": "object"}},
        "per_ticket_seconds": {"type": "number"},
        "from_samples": {"type": "boolean"},
        "served": {"type": "integer"},
        "active": {"type": "integer"},
    },
}


@blp.route("/counters", methods=["POST"])
@require_roles(Role.ADMIN, Role.NURSE)
@blp.arguments(CounterCreateArgs)
@blp.response(201, CounterOut)
def create_counter(args: dict[str, Any]) -> Counter:
    """Add a counter (a desk or window) to a service point."""
    actor = signed_in_account()
    return counters.create_counter(actor=actor, hospital_id=actor.hospital_id, **args)


@blp.route("/counters/<int:counter_id>", methods=["GET"])
@require_roles(*STAFF)
@blp.doc(**json_response("The console's data.", CONSOLE_SCHEMA))
def get_console(counter_id: int) -> dict[str, Any]:
    """The console's data: the counter's ticket and the waiting list in order, with why."""
    return _console_payload(counter_id)


def _console_payload(counter_id: int) -> dict[str, Any]:
    actor = signed_in_account()
    counter = counters.counter_for_staff(actor=actor, counter_id=counter_id, action="console.read")
    queue = queues.find_queue(
        counter.service_point, local_date(utcnow(), zone_for(current_hospital()))
    )
    if queue is None:
        return {
            "queue": None,
            "counter": {"id": counter.id, "code": counter.code, "paused": counter.is_paused},
            "waiting": [],
            "current": None,
        }
    state = snapshots.load_state(queue.id, now=utcnow())
    assert state is not None
    view = snapshots.console_view(state, counter.id)
    counters.audit_console_read(actor=actor, view=view, counter_id=counter.id)
    return view


@blp.route("/counters/<int:counter_id>/call-next", methods=["POST"])
@require_roles(*STAFF)
@blp.response(200, CallOut)
def call_next(counter_id: int) -> dict[str, Any]:
    """Call the next patient; repeating returns the ticket already called (never a second one)."""
    actor = signed_in_account()
    result = calling.call_next(
        actor=actor, hospital_id=actor.hospital_id, counter_id=counter_id, now=utcnow()
    )
    return call_out(result)


@blp.route("/counters/<int:counter_id>/call", methods=["POST"])
@require_roles(*STAFF)
@blp.arguments(CallTicketArgs)
@blp.response(200, CallOut)
def call_ticket(args: dict[str, Any], counter_id: int) -> dict[str, Any]:
    """Call a particular patient out of order, with a reason (audited)."""
    actor = signed_in_account()
    result = calling.call_ticket(
        actor=actor, hospital_id=actor.hospital_id, counter_id=counter_id, now=utcnow(), **args
    )
    return call_out(result)


def _counter_action(fn: Callable[..., Ticket]) -> Callable[..., dict[str, Any]]:
    def handler(args: dict[str, Any], counter_id: int) -> dict[str, Any]:
        actor = signed_in_account()
        ticket = fn(
            actor=actor, hospital_id=actor.hospital_id, counter_id=counter_id, now=utcnow(), **args
        )
        return ticket_out(ticket)

    return handler


for _path, _fn, _schema, _doc in (
    ("recall", calling.recall, CounterActionArgs, "Announce the current ticket again."),
    ("start", serving.start, CounterActionArgs, "The patient arrived: start serving."),
    ("complete", serving.complete, CounterActionArgs, "Finish serving the current ticket."),
    ("missed", calling.mark_missed, CounterActionArgs, "The patient did not come: move them back."),
    ("transfer", serving.transfer, TransferArgs, "Send the patient to another queue."),
):
    _view = _counter_action(_fn)
    _view.__name__ = f"counter_{_path}"
    _view.__doc__ = _doc
    blp.route(f"/counters/<int:counter_id>/{_path}", methods=["POST"])(
        require_roles(*STAFF)(blp.arguments(_schema)(blp.response(200, TicketOut)(_view)))
    )


@blp.route("/counters/<int:counter_id>/queues", methods=["PUT"])
@require_roles(Role.ADMIN, Role.NURSE)
@blp.arguments(CounterQueuesArgs)
@blp.response(200, CounterQueuesOut)
def assign_counter_queues(args: dict[str, Any], counter_id: int) -> dict[str, Any]:
    """Let a counter call from further service points' queues: by longest wait, or in order."""
    actor = signed_in_account()
    counter = counters.assign_queues(
        actor=actor,
        hospital_id=actor.hospital_id,
        counter_id=counter_id,
        service_point_ids=args["service_point_ids"],
        rule=CallRule(args["rule"]),
    )
    return {
        "counter_id": counter.id,
        "rule": counter.call_rule.value,
        "service_point_ids": counters.assigned_points(counter.id),
    }


@blp.route("/alerts", methods=["GET"])
@require_roles(*STAFF)
@blp.response(200, AlertsOut)
def staff_alerts() -> dict[str, Any]:
    """Today's alerts on the queues the signed-in staff member works (for the staff home)."""
    return {"alerts": alerting.staff_alerts(actor=signed_in_account(), now=utcnow())}


@blp.route("/points/<int:service_point_id>/alert-thresholds", methods=["GET"])
@require_roles(*STAFF)
@blp.response(200, AlertThresholdsOut)
def get_alert_thresholds(service_point_id: int) -> Any:
    """A service point's alert thresholds (the defaults until set)."""
    actor = signed_in_account()
    point = queues.active_service_point(actor.hospital_id, service_point_id)
    return alerting.thresholds_for(actor.hospital_id, point.id)


@blp.route("/points/<int:service_point_id>/alert-thresholds", methods=["PUT"])
@require_roles(Role.ADMIN, Role.NURSE)
@blp.arguments(AlertThresholdsArgs)
@blp.response(200, AlertThresholdsOut)
def set_alert_thresholds(args: dict[str, Any], service_point_id: int) -> Any:
    """Set when the console and staff home warn about this service point's queue."""
    actor = signed_in_account()
    return alerting.set_thresholds(
        actor=actor,
        hospital_id=actor.hospital_id,
        service_point_id=service_point_id,
        now=utcnow(),
        **args,
    )


@blp.route("/counters/<int:counter_id>/undo", methods=["POST"])
@require_roles(*STAFF)
@blp.response(200, TicketOut)
@blp.alt_response(
    409,
    description="Nothing to undo (`nothing_to_undo`), too late (`undo_too_late`), or the ticket "
    "moved on since (`undo_not_possible`).",
)
def undo(counter_id: int) -> dict[str, Any]:
    """Undo the counter's last call, miss, completion or transfer, within a short time (audited)."""
    actor = signed_in_account()
    ticket = undo_service.undo_last(
        actor=actor,
        hospital_id=actor.hospital_id,
        counter_id=counter_id,
        now=utcnow(),
        window_seconds=int(current_app.config["QUEUE_UNDO_SECONDS"]),
    )
    return ticket_out(ticket)


@blp.route("/counters/<int:counter_id>/pause", methods=["POST"])
@require_roles(*STAFF)
@blp.arguments(PauseArgs)
@blp.response(200, CounterOut)
def pause(args: dict[str, Any], counter_id: int) -> Counter:
    """Pause the counter, saying why and for how many minutes: it cannot call until resumed,
    and the board shows when it will be back."""
    actor = signed_in_account()
    return serving.set_paused(
        actor=actor,
        hospital_id=actor.hospital_id,
        counter_id=counter_id,
        paused=True,
        now=utcnow(),
        **args,
    )


@blp.route("/counters/<int:counter_id>/resume", methods=["POST"])
@require_roles(*STAFF)
@blp.response(200, CounterOut)
def resume(counter_id: int) -> Counter:
    """Resume a paused counter."""
    actor = signed_in_account()
    return serving.set_paused(
        actor=actor,
        hospital_id=actor.hospital_id,
        counter_id=counter_id,
        paused=False,
        now=utcnow(),
    )
