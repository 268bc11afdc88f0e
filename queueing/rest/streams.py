"""Server-Sent Events of the queue: a ticket's page, a display board and a staff console.

A stream sends a full snapshot on (re)connect, then one on every queue event, with a heartbeat
between; each process bounds its open streams (beyond them: one snapshot, then a slow poll).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.guards import public, require_roles, signed_in_account, token_access
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.organisation.lookup import current_hospital
from hospital.web.api_docs import file_response
from hospital.zones import local_date, zone_for
from queueing import snapshots
from queueing.live import broker, state_cache
from queueing.rest import common
from queueing.rest.boards import board_queue_ids
from queueing.rest.common import STAFF, blp
from queueing.schemas import BoardArgs
from queueing.services import counters, notify, queues

HEARTBEAT_SECONDS = 15.0
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
        ends = time.monotonic() + (common.STREAM_SECONDS if holds_slot else 0)
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
    state = snapshots.load_state(queue.id, now=utcnow())
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
