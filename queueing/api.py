"""REST and event-stream endpoints of the virtual queue (/api/v1/queueing).

Staff act on counters; a ticket is reached by its opaque token (the QR's link); boards are
public and show masked data only. Streams send a full snapshot on (re)connect, then on every
queue event, with a heartbeat between; GET endpoints return the same payloads for polling.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint

from hospital.accounts.guards import (
    access,
    current_account,
    current_device,
    public,
    require_roles,
    signed_in_account,
    token_access,
)
from hospital.accounts.models import STAFF_ROLES, DeviceKind, Role
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import ServicePoint
from hospital.web.api_docs import file_response, json_response
from hospital.zones import local_date, zone_for
from queueing import device_check_in, snapshots
from queueing.live import broker, state_cache
from queueing.models import CallRule, Counter, PriorityClass, ServiceQueue, Ticket
from queueing.schemas import (
    AlertsOut,
    AlertThresholdsArgs,
    AlertThresholdsOut,
    BoardArgs,
    BoardOut,
    CallOut,
    CallTicketArgs,
    CheckInArgs,
    CounterActionArgs,
    CounterCreateArgs,
    CounterOut,
    CounterQueuesArgs,
    CounterQueuesOut,
    NotifyAheadArgs,
    NotifyAheadOut,
    OpenQueueArgs,
    PauseArgs,
    QueueOut,
    TicketOut,
    TicketViewOut,
    TransferArgs,
    WalkInArgs,
)
from queueing.services import (
    alerting,
    arrivals,
    calling,
    counters,
    issuing,
    notify,
    queues,
    serving,
)
from queueing.services import undo as undo_service

blp = Blueprint(
    "queueing", __name__, description="Virtual queues: tickets, calling, boards, live events."
)

STAFF = tuple(STAFF_ROLES)
HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 600.0  # a stream ends after this; EventSource reconnects and gets a snapshot
DEFAULT_STREAM_SLOTS = 1000
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def stream_slots(limit: int) -> threading.BoundedSemaphore:
    """The semaphore bounding this process's open streams."""
    with _slots_lock:
        key = os.getpid()
        if key not in _slots:
            _slots[key] = threading.BoundedSemaphore(max(limit, 1))
        return _slots[key]


# One instance: building a schema costs more than dumping a ticket with it.
_TICKET_OUT = TicketOut()


def _ticket_out(ticket: Ticket) -> dict[str, Any]:
    data: dict[str, Any] = _TICKET_OUT.dump(ticket)
    data["link"] = notify.ticket_link(ticket)
    return data


def _call_out(result: calling.CallResult) -> dict[str, Any]:
    return {
        "ticket": _ticket_out(result.ticket) if result.ticket else None,
        "repeated": result.repeated,
        "reason": result.reason,
        "detail": result.detail or {},
    }


# ---- queues and tickets ---------------------------------------------------------------------


@blp.route("/queues", methods=["POST"])
@require_roles(*STAFF)
@blp.arguments(OpenQueueArgs)
@blp.response(200, QueueOut)
def open_queue(args: dict[str, Any]) -> ServiceQueue:
    """Open today's queue for a service point (opening twice returns the same queue)."""
    actor = signed_in_account()
    return queues.open_queue(
        actor=actor,
        hospital_id=actor.hospital_id,
        service_point_id=args["service_point_id"],
        now=utcnow(),
        prefix=args.get("prefix"),
    )


@blp.route("/queues/<int:queue_id>/close", methods=["POST"])
@require_roles(*STAFF)
@blp.response(200, QueueOut)
def close_queue(queue_id: int) -> ServiceQueue:
    """Close a queue: no new tickets; those waiting are still served."""
    return queues.close_queue(actor=signed_in_account(), queue_id=queue_id, now=utcnow())


def _refuse_unpaid_kiosk_walk_in(hospital_id: int) -> None:
    """A kiosk may issue a free ticket here only where walk-ins cost nothing.

    Where a walk-in fee is due, the kiosk's own walk-in registration (/api/v1/kiosk/walk-in/pay)
    takes the payment first; this endpoint must not be a way around it.
    """
    from hospital.billing.services.orders import walk_in_fee_fen

    fee_class = str(current_app.config.get("KIOSK_WALK_IN_FEE_CLASS", "general"))
    if walk_in_fee_fen(hospital_id, fee_class=fee_class) > 0:
        raise Conflict(
            _l(
                "A walk-in ticket costs the registration fee here: register through the kiosk's "
                "walk-in screen, which takes the payment first."
            ),
            code=ErrorCode.WALK_IN_FEE_DUE,
        )


@blp.route("/tickets", methods=["POST"])
@access(roles=STAFF_ROLES, devices=[DeviceKind.KIOSK])  # checked below
@blp.arguments(WalkInArgs)
@blp.response(201, TicketOut)
def issue_walk_in(args: dict[str, Any]) -> dict[str, Any]:
    """Issue a walk-in ticket (staff, or a kiosk device)."""
    actor = current_account()
    if actor is not None:
        if not actor.is_staff:
            raise Forbidden(
                _l("Only staff or a kiosk can issue walk-in tickets."), code=ErrorCode.ROLE_REQUIRED
            )
        hospital_id = actor.hospital_id
    else:
        device = current_device()
        if device is None or device.kind is not DeviceKind.KIOSK:
            raise Unauthorized(_l("Please sign in first."))
        hospital_id = device.hospital_id
        _refuse_unpaid_kiosk_walk_in(hospital_id)
    priority = PriorityClass(args["priority"]) if args.get("priority") else None
    ticket = issuing.issue_walk_in(
        actor=actor,
        hospital_id=hospital_id,
        service_point_id=args["service_point_id"],
        now=utcnow(),
        patient_id=args.get("patient_id"),
        priority=priority,
    )
    return _ticket_out(ticket)


@blp.route("/check-in", methods=["POST"])
@access(signed_in=True, devices=[DeviceKind.KIOSK])  # checked below
@blp.arguments(CheckInArgs)
@blp.response(200, TicketOut)
@blp.alt_response(
    403,
    description="A device without the appointment's code, or a staff role "
    "that does not check patients in (code `proof_required` / `role_required`).",
)
@blp.alt_response(
    404,
    description="A patient's poster code that is not a check-in poster of this hospital "
    "(code `poster_code_invalid`); an appointment that is not the patient's.",
)
@blp.alt_response(
    409,
    description="Outside the check-in window (`outside_checkin_window`), or the poster hangs "
    "at another department (`poster_other_department`).",
)
@blp.alt_response(
    429,
    description="This kiosk checked in too many patients in a minute "
    "(`kiosk_rate_limited`, with Retry-After).",
)
def check_in(args: dict[str, Any]) -> dict[str, Any]:
    """Check a booked appointment in and get its ticket (twice gives the same ticket).

    Who may, and with what proof: a patient (or family with booking rights) by `appointment_id`
    with `poster_code`, the check-in poster scanned at the department's entrance, inside the
    check-in window (422 `poster_code_required`, 404 `poster_code_invalid`, 409
    `poster_other_department` or `outside_checkin_window` otherwise);
    staff who check patients in (registrar, nurse, admin) by `appointment_id`, audited; a kiosk
    device only with `code`, the text of the appointment's QR code, rate-limited per device and
    audited like the kiosk's own check-in. A device giving only an id is refused.
    """
    from hospital.patients.access import Permission, require_patient_access

    actor = current_account()
    now = utcnow()
    if actor is None:
        device = current_device()
        if device is None or device.kind is not DeviceKind.KIOSK:
            raise Unauthorized(_l("Please sign in first."))
        return _ticket_out(_device_check_in(device, args, now))
    if "appointment_id" not in args:
        raise InvalidInput(
            _l("Staff and patients check in by appointment_id; the code is for kiosks."),
            code=ErrorCode.APPOINTMENT_ID_REQUIRED,
        )
    if actor.is_staff:
        issuing.require_check_in_role(actor=actor)
    else:
        from scheduling.services.queries import appointment_of_hospital

        appointment = appointment_of_hospital(actor.hospital_id, args["appointment_id"])
        if appointment is None:
            raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
        require_patient_access(
            actor, appointment.patient_id, Permission.BOOK, action="queue.check_in"
        )
        # A patient checks in on arrival: the scanned poster at the department is the proof.
        ticket, _created = arrivals.check_in_from_phone(
            actor=actor,
            appointment_id=appointment.id,
            poster_code=args.get("poster_code", ""),
            now=now,
        )
        return _ticket_out(ticket)
    ticket, created = issuing.check_in(
        actor=actor, hospital_id=actor.hospital_id, appointment_id=args["appointment_id"], now=now
    )
    if actor.is_staff:
        issuing.audit_staff_check_in(actor=actor, ticket=ticket, created=created)
    return _ticket_out(ticket)


def _device_check_in(device: Any, args: dict[str, Any], now: Any) -> Ticket:
    """A kiosk checks in only with the appointment's QR code: never by a bare id."""
    from hospital.audit.service import record

    ticket = (
        device_check_in.check_in_with_code(device, args["code"], now=now)
        if "code" in args
        else None
    )
    if ticket is None:
        record(
            action="queue.check_in",
            outcome="denied",
            device=device,
            object_type="appointment",
            object_id=str(args.get("appointment_id", "")),
            detail={"reason": "proof_required"},
        )
        raise Forbidden(
            _l(
                "A kiosk checks a patient in only with the appointment's QR code: send its "
                "text as code."
            ),
            code=ErrorCode.PROOF_REQUIRED,
        )
    return ticket


@blp.route("/tickets/<token>", methods=["GET"])
@token_access("the ticket's link token")
@blp.response(200, TicketViewOut)
def get_ticket(token: str) -> dict[str, Any]:
    """The ticket page's data: status, people ahead, ETA range, room and directions."""
    ticket = notify.ticket_by_token(token)
    state = snapshots.load_state(ticket.queue_id, utcnow())
    assert state is not None
    return snapshots.ticket_view(state, ticket.id)


@blp.route("/tickets/<token>/qr.svg", methods=["GET"])
@token_access("the ticket's link token")
@blp.doc(**file_response("The QR code (SVG).", "image/svg+xml"))
def ticket_qr(token: str) -> Response:
    """The ticket's QR code: it encodes only the ticket page's link (no personal data)."""
    from hospital.qr import qr_svg

    ticket = notify.ticket_by_token(token)
    return Response(qr_svg(notify.ticket_link(ticket)), mimetype="image/svg+xml")


@blp.route("/tickets/<token>", methods=["PATCH"])
@token_access("the ticket's link token")
@blp.arguments(NotifyAheadArgs)
@blp.response(200, NotifyAheadOut)
def set_notify_ahead(args: dict[str, Any], token: str) -> dict[str, Any]:
    """Choose at how many people ahead to be told to come (default 3)."""
    ticket = notify.set_notify_ahead(token=token, ahead=args["notify_ahead"])
    return {"notify_ahead": ticket.notify_ahead}


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
    state = snapshots.load_state(queue.id, utcnow())
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
    return _call_out(result)


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
    return _call_out(result)


def _counter_action(fn: Callable[..., Ticket]) -> Callable[..., dict[str, Any]]:
    def handler(args: dict[str, Any], counter_id: int) -> dict[str, Any]:
        actor = signed_in_account()
        ticket = fn(
            actor=actor, hospital_id=actor.hospital_id, counter_id=counter_id, now=utcnow(), **args
        )
        return _ticket_out(ticket)

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
    return _ticket_out(ticket)


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


# ---- boards ---------------------------------------------------------------------------------


def board_queue_ids(args: dict[str, Any]) -> list[int]:
    """Today's queues of the listed service points and a department's, or the whole hospital's."""
    hospital = current_hospital()
    chosen: list[sa.ColumnElement[bool]] = []
    if args.get("points"):
        chosen.append(ServicePoint.id.in_(sorted({int(p) for p in args["points"].split(",")})))
    if args.get("department") is not None:
        chosen.append(ServicePoint.department_id == args["department"])
    scope = sa.or_(*chosen) if chosen else sa.true()
    day = local_date(utcnow(), zone_for(hospital))
    rows = db.session.scalars(
        sa.select(ServiceQueue.id)
        .join(ServicePoint, ServicePoint.id == ServiceQueue.service_point_id)
        .where(
            scope,
            ServicePoint.hospital_id == hospital.id,
            ServiceQueue.service_day == day,
        )
        .order_by(ServiceQueue.service_point_id)
    ).all()
    return list(rows)


@blp.route("/board", methods=["GET"])
@public("display board: masked names and ticket numbers only")
@blp.arguments(BoardArgs, location="query")
@blp.response(200, BoardOut)
def get_board(args: dict[str, Any]) -> dict[str, Any]:
    """What the display board shows: now calling, last calls, next waiting (masked names)."""
    now = utcnow()
    states = [s for s in (snapshots.load_state(q, now) for q in board_queue_ids(args)) if s]
    return snapshots.board_view(states)


# ---- event streams --------------------------------------------------------------------------


def event_stream(
    queue_ids: list[int], render: Callable[[list[dict[str, Any]]], dict[str, Any]]
) -> Response:
    """Server-Sent Events: a snapshot now, a snapshot after each change, a heartbeat between."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # Flask types the proxy as Flask
    heartbeat = float(app.config.get("QUEUE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
    hub = broker()
    cache = state_cache(heartbeat)
    slots = stream_slots(int(app.config.get("QUEUE_STREAM_SLOTS", DEFAULT_STREAM_SLOTS)))
    # Beyond the process's stream slots, send one snapshot and close: the browser reconnects
    # after the retry delay, which makes it a slow poll instead of starving the workers.
    holds_slot = slots.acquire(blocking=False)
    subscription = hub.subscribe(queue_ids)

    def frames() -> Iterator[str]:
        last = ""
        ends = time.monotonic() + (STREAM_SECONDS if holds_slot else 0)
        try:
            yield "retry: 2000\n\n" if holds_slot else "retry: 10000\n\n"
            changed = True
            while True:
                states = [
                    s
                    for s in (
                        cache.get(app, q, wanted_version=hub.latest_version(q)) for q in queue_ids
                    )
                    if s is not None
                ]
                data = json.dumps(render(states), ensure_ascii=False, separators=(",", ":"))
                if data != last:
                    last = data
                    yield f"event: snapshot\ndata: {data}\n\n"
                elif not changed:
                    yield "event: heartbeat\ndata: {}\n\n"
                if time.monotonic() >= ends:
                    break
                changed = subscription.wait(heartbeat)
        finally:
            cleanup()

    released: list[bool] = []

    def cleanup() -> None:
        # Runs when the stream ends or the server closes it, even if it never started.
        if released:
            return
        released.append(True)
        hub.unsubscribe(subscription)
        if holds_slot:
            slots.release()

    response = Response(
        frames(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(cleanup)
    return response


@blp.route("/tickets/<token>/events", methods=["GET"])
@token_access("the ticket's link token")
@blp.doc(**file_response("Server-Sent Events: the ticket's state.", "text/event-stream"))
def ticket_events(token: str) -> Response:
    """Live updates of one ticket (Server-Sent Events)."""
    ticket = notify.ticket_by_token(token)
    ticket_id = ticket.id
    return event_stream(
        [ticket.queue_id], lambda states: snapshots.ticket_view(states[0], ticket_id)
    )


@blp.route("/board/events", methods=["GET"])
@public("display board: masked names and ticket numbers only")
@blp.arguments(BoardArgs, location="query")
@blp.doc(**file_response("Server-Sent Events: the board's state.", "text/event-stream"))
def board_events(args: dict[str, Any]) -> Response:
    """Live updates of a display board (Server-Sent Events)."""
    return event_stream(board_queue_ids(args), snapshots.board_view)


@blp.route("/counters/<int:counter_id>/events", methods=["GET"])
@require_roles(*STAFF)
@blp.doc(**file_response("Server-Sent Events: the console's state.", "text/event-stream"))
def counter_events(counter_id: int) -> Response:
    """Live updates of a staff console (Server-Sent Events)."""
    actor = signed_in_account()
    counter = counters.counter_for_staff(actor=actor, counter_id=counter_id, action="console.read")
    queue = queues.find_queue(
        counter.service_point, local_date(utcnow(), zone_for(current_hospital()))
    )
    if queue is None:
        raise NotFound(_l("This counter's queue is not open today."), code=ErrorCode.QUEUE_NOT_OPEN)
    # The names the first snapshot shows are audited as this request's read; names that
    # appear later are audited by the stream as it sends them.
    state = snapshots.load_state(queue.id, utcnow())
    view = snapshots.console_view(state, counter.id) if state is not None else None
    if view is not None:
        counters.audit_console_read(actor=actor, view=view, counter_id=counter.id)
    audit_later_names = counters.live_console_auditor(
        actor=actor, first_view=view, counter_id=counter.id
    )

    def render(states: list[dict[str, Any]]) -> dict[str, Any]:
        shown = snapshots.console_view(states[0], counter_id)
        audit_later_names(shown)
        return shown

    return event_stream([queue.id], render)
