"""Queue state read from the database, and what the board, the ticket page and the console see.

`load_state` reads one queue in one query round; the `*_view` functions are pure and decide what
each audience may see: boards and tickets get the masked name and number only (invariant 8).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Hospital, ServicePoint
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from queueing import alerts, eta, fairness, ordering
from queueing.models import (
    ACTIVE_STATUSES,
    AlertThresholds,
    Counter,
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketEvent,
    TicketStatus,
)

RECENT_CALLS = 6
BOARD_NEXT = 5
SAMPLE_WINDOW = timedelta(days=7)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _point(point: ServicePoint) -> dict[str, Any]:
    return {
        "id": point.id,
        "code": point.code,
        "name_zh": point.name_zh,
        "name_en": point.name_en,
        "building": point.building,
        "floor": point.floor,
        "room": point.room,
        "directions_zh": point.directions_zh,
        "directions_en": point.directions_en,
    }


def service_samples(service_point_id: int, *, now: datetime) -> list[float]:
    """Recent service durations in seconds at this service point, oldest first."""
    rows = db.session.execute(
        sa.select(Ticket.started_at, Ticket.finished_at)
        .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
        .where(
            ServiceQueue.service_point_id == service_point_id,
            Ticket.status == TicketStatus.DONE,
            Ticket.started_at.is_not(None),
            Ticket.finished_at >= now - SAMPLE_WINDOW,
        )
        .order_by(Ticket.finished_at.desc())
        .limit(eta.RECENT_SAMPLES)
    ).all()
    return [(f - s).total_seconds() for s, f in reversed(rows) if f and s]


def load_state(queue_id: int, *, now: datetime) -> dict[str, Any] | None:
    """Everything screens need about one queue, as plain data (or None if there is no such queue)."""
    from queueing.services.line import as_waiting, policy_for

    queue = db.session.get(ServiceQueue, queue_id, populate_existing=True)
    if queue is None:
        return None
    point = queue.service_point
    hospital = db.session.get_one(Hospital, queue.hospital_id)
    counters = db.session.scalars(
        sa.select(Counter).where(Counter.service_point_id == point.id).order_by(Counter.code)
    ).all()
    tickets = db.session.execute(
        sa.select(Ticket, Patient.name)
        .outerjoin(Patient, Patient.id == Ticket.patient_id)
        .where(Ticket.queue_id == queue.id)
        .order_by(Ticket.number)
    ).all()
    counter_codes = {c.id: c.code for c in counters}
    by_id: dict[int, dict[str, Any]] = {}
    waiting: list[Ticket] = []
    for ticket, name in tickets:
        by_id[ticket.id] = {
            "id": ticket.id,
            "code": ticket.code,
            "status": ticket.status.value,
            "priority": ticket.priority.value,
            "kind": ticket.kind.value,
            "patient_id": ticket.patient_id,
            "patient_name": name or "",
            "masked_name": mask_name(name) if name else "",
            "counter_id": ticket.counter_id,
            "counter_code": counter_codes.get(ticket.counter_id or 0, ""),
            "call_count": ticket.call_count,
            "called_at": _iso(ticket.called_at),
            "misses": ticket.misses,
            "arrived_at": _iso(ticket.arrived_at),
            "slot_start": _iso(ticket.slot_start),
            "notify_ahead": ticket.notify_ahead,
            "out_of_order_reason": ticket.called_out_of_order_reason,
            "counter_room": "",
            "order_key": _iso(ticket.order_key),
            "started_at": _iso(ticket.started_at),
        }
        if ticket.status is TicketStatus.WAITING:
            waiting.append(ticket)
    visiting = {
        t["counter_id"] for t in by_id.values() if t["counter_id"] and not t["counter_code"]
    }
    if visiting:
        # Counters of another service point that serve this queue too: the board says where.
        for counter_id, code, room in db.session.execute(
            sa.select(Counter.id, Counter.code, ServicePoint.room)
            .join(ServicePoint, ServicePoint.id == Counter.service_point_id)
            .where(Counter.id.in_(visiting))
        ):
            for t in by_id.values():
                if t["counter_id"] == counter_id:
                    t["counter_code"], t["counter_room"] = code, room
    last_call = db.session.execute(
        sa.select(TicketEvent.ticket_id, TicketEvent.detail, TicketEvent.at)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            Ticket.queue_id == queue.id,
            TicketEvent.action == TicketAction.CALLED,
            TicketEvent.undone_at.is_(None),
        )
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).first()
    placements = ordering.order(
        [as_waiting(t) for t in waiting],
        policy=policy_for(queue),
        regular_since_priority=queue.regular_since_priority,
        now=now,
    )
    samples = service_samples(point.id, now=now)
    per_ticket, measured = eta.typical_service_seconds(
        samples, default_seconds=queue.default_service_seconds
    )
    active = [c for c in counters if not c.is_paused] or list(counters)
    from scheduling.services.queries import booked_not_arrived

    booked_pending = booked_not_arrived(point.id, queue.service_day)
    limits = db.session.scalar(
        sa.select(AlertThresholds).where(AlertThresholds.service_point_id == point.id)
    )
    called = sorted(
        (t for t in by_id.values() if t["called_at"]),
        key=lambda t: t["called_at"],
        reverse=True,
    )
    return {
        "queue": {
            "id": queue.id,
            "prefix": queue.prefix,
            "status": queue.status.value,
            "version": queue.version,
            "service_day": queue.service_day.isoformat(),
            "point": _point(point),
            "timezone": hospital.timezone,
        },
        "counters": [
            {
                "id": c.id,
                "code": c.code,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "paused": c.is_paused,
                "pause_reason": c.pause_reason,
                "paused_until": _iso(c.paused_until),
                "ticket_id": c.current_ticket_id,
            }
            for c in counters
        ],
        "tickets": by_id,
        "waiting": [
            {
                "ticket_id": p.ticket.id,
                "position": p.position,
                "reason": p.reason,
                "detail": p.detail,
            }
            for p in placements
        ],
        "recent_calls": [t["id"] for t in called[:RECENT_CALLS]],
        "samples": samples,
        "per_ticket_seconds": per_ticket,
        "from_samples": measured,
        "default_service_seconds": queue.default_service_seconds,
        "active_counters": max(len(active), 1),
        "booked_pending": [_iso(start) for start in booked_pending],
        "last_call": {"ticket_id": last_call[0], "reason": last_call[1], "at": _iso(last_call[2])}
        if last_call
        else None,
        "arrival_grace_minutes": queue.arrival_grace_minutes,
        "alert_thresholds": {
            "booked_wait_minutes": limits.booked_wait_minutes,
            "longest_wait_minutes": limits.longest_wait_minutes,
            "pause_overrun_minutes": limits.pause_overrun_minutes,
            "calls_without_coming": limits.calls_without_coming,
        }
        if limits
        else None,
        "calibration": {
            "low_factor": queue.eta_low_factor,
            "high_factor": queue.eta_high_factor,
            "samples": queue.eta_samples,
        },
        "generated_at": now.isoformat(),
    }


def _public_ticket(ticket: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """A ticket as a public screen may show it: number and masked name only."""
    return {
        "code": ticket["code"],
        "masked_name": ticket["masked_name"],
        "status": ticket["status"],
        "room": ticket["counter_room"] or point["room"],
        "counter": ticket["counter_code"],
        "call_count": ticket["call_count"],
        "called_at": ticket["called_at"],
        "call_key": f"{ticket['id']}-{ticket['call_count']}",
    }


def _paused_counters(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Paused counters as a board shows them: code and the local time it said it would be back
    (never the reason, which is for staff)."""
    zone = ZoneInfo(state["queue"]["timezone"])
    return [
        {
            "counter": c["code"],
            "back_at": datetime.fromisoformat(c["paused_until"]).astimezone(zone).strftime("%H:%M")
            if c["paused_until"]
            else None,
        }
        for c in state["counters"]
        if c["paused"]
    ]


def board_view(states: list[dict[str, Any]]) -> dict[str, Any]:
    """What a display board shows for several queues (invariant 8: no names, phones, IDs)."""
    queues = []
    calls = []
    for state in states:
        point = state["queue"]["point"]
        tickets = state["tickets"]
        now_calling = [
            _public_ticket(tickets[i], point)
            for i in state["recent_calls"]
            if tickets[i]["status"] == TicketStatus.CALLED.value
        ]
        recent = [_public_ticket(tickets[i], point) for i in state["recent_calls"]]
        for item in recent:
            calls.append({**item, "place_zh": point["name_zh"], "place_en": point["name_en"]})
        queues.append(
            {
                "queue_id": state["queue"]["id"],
                "version": state["queue"]["version"],
                "name_zh": point["name_zh"],
                "name_en": point["name_en"],
                "room": point["room"],
                "floor": point["floor"],
                "now_calling": now_calling,
                "next_waiting": [
                    {
                        "code": tickets[w["ticket_id"]]["code"],
                        "masked_name": tickets[w["ticket_id"]]["masked_name"],
                    }
                    for w in state["waiting"][:BOARD_NEXT]
                ],
                "waiting_count": len(state["waiting"]),
                "paused_counters": _paused_counters(state),
            }
        )
    calls.sort(key=lambda c: c["called_at"] or "", reverse=True)
    return {"queues": queues, "calls": calls[:RECENT_CALLS]}


def calibration_of(state: dict[str, Any]) -> eta.Calibration:
    c = state["calibration"]
    if c["low_factor"] is None or c["high_factor"] is None:
        return eta.UNCALIBRATED
    return eta.Calibration(c["low_factor"], c["high_factor"], c["samples"], None)


def wait_ranges(
    state: dict[str, Any], *, now: datetime, only: int | None = None
) -> dict[int, eta.WaitRange]:
    """The wait range each waiting ticket's page shows (or only that ticket's), by the queue's
    model: counters busy, free or back from a pause, booked patients still to come, and the
    calibration fitted on how earlier ranges fared."""
    per_ticket = float(state["per_ticket_seconds"])
    tickets = state["tickets"]
    lanes: list[eta.Lane] = []
    for counter in state["counters"]:
        current = tickets.get(counter["ticket_id"]) if counter["ticket_id"] else None
        since = (current or {}).get("started_at") or (current or {}).get("called_at")
        until = counter.get("paused_until")
        lane = eta.lane_for_counter(
            per_ticket_seconds=per_ticket,
            busy_for_seconds=(now - datetime.fromisoformat(since)).total_seconds()
            if since
            else None,
            paused=counter["paused"],
            back_in_seconds=(datetime.fromisoformat(until) - now).total_seconds()
            if until
            else None,
        )
        if lane is not None:
            lanes.append(lane)
    grace = timedelta(minutes=state["arrival_grace_minutes"])
    pending = [
        datetime.fromisoformat(start)
        for start in state["booked_pending"]
        if datetime.fromisoformat(start) + grace > now
    ]
    calibration = calibration_of(state)
    ranges: dict[int, eta.WaitRange] = {}
    for w in state["waiting"]:
        if only is not None and w["ticket_id"] != only:
            continue
        key = datetime.fromisoformat(tickets[w["ticket_id"]]["order_key"])
        expected = eta.expected_wait_seconds(
            w["position"],
            per_ticket_seconds=per_ticket,
            lanes=lanes,
            booked_ahead_in_seconds=[(s - now).total_seconds() for s in pending if s < key],
        )
        ranges[w["ticket_id"]] = eta.wait_range(w["position"], expected, calibration)
    return ranges


def ticket_view(state: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """The patient's own ticket page: position, ETA, room and directions; masked name only."""
    ticket = state["tickets"][ticket_id]
    point = state["queue"]["point"]
    ahead = next((w["position"] for w in state["waiting"] if w["ticket_id"] == ticket_id), None)
    estimate = None
    if ahead is not None:
        shown = wait_ranges(
            state, now=datetime.fromisoformat(state["generated_at"]), only=ticket_id
        )[ticket_id]
        estimate = {"low_minutes": shown.low_minutes, "high_minutes": shown.high_minutes}
    return {
        "code": ticket["code"],
        "masked_name": ticket["masked_name"],
        "status": ticket["status"],
        "ahead": ahead,
        "eta": estimate,
        "counter": ticket["counter_code"],
        "counter_room": ticket["counter_room"],
        "called_ahead_because": fairness.called_ahead(state, ticket_id),
        "call_count": ticket["call_count"],
        "notify_ahead": ticket["notify_ahead"],
        "queue_status": state["queue"]["status"],
        "version": state["queue"]["version"],
        "place": {
            "name_zh": point["name_zh"],
            "name_en": point["name_en"],
            "building": point["building"],
            "floor": point["floor"],
            "room": point["room"],
            "directions_zh": point["directions_zh"],
            "directions_en": point["directions_en"],
        },
    }


def people_ahead(ticket: Ticket, *, now: datetime) -> int | None:
    """How many are called before this ticket, by the queue's own ordering (None: not waiting)."""
    state = load_state(ticket.queue_id, now=now)
    if state is None or ticket.id not in state["tickets"]:
        return None
    # The queue's position is 0 for "called next": exactly the number of people ahead.
    ahead = ticket_view(state, ticket.id)["ahead"]
    return None if ahead is None else int(ahead)


def alerts_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The queue's staff alerts at the time the state was read, by its thresholds."""
    limits = state.get("alert_thresholds")
    thresholds = alerts.Thresholds(**limits) if limits else alerts.Thresholds()
    now = datetime.fromisoformat(state["generated_at"])
    return [
        {"kind": a.kind, "queue_id": a.queue_id, "detail": a.detail}
        for a in alerts.queue_alerts(state, thresholds, now=now)
    ]


def console_view(state: dict[str, Any], counter_id: int) -> dict[str, Any]:
    """The staff console: the counter's ticket, the waiting list in order with why, and ETA."""
    tickets = state["tickets"]
    counter = next((c for c in state["counters"] if c["id"] == counter_id), None)
    current = tickets.get(counter["ticket_id"]) if counter and counter["ticket_id"] else None
    waiting = []
    for w in state["waiting"]:
        t = tickets[w["ticket_id"]]
        waiting.append(
            {
                "id": t["id"],
                "code": t["code"],
                "patient_id": t["patient_id"],
                "patient_name": t["patient_name"],
                "priority": t["priority"],
                "kind": t["kind"],
                "misses": t["misses"],
                "arrived_at": t["arrived_at"],
                "position": w["position"],
                "reason": w["reason"],
                "detail": w["detail"],
            }
        )
    return {
        "queue": {k: v for k, v in state["queue"].items()},
        "counter": counter,
        "current": current,
        "waiting": waiting,
        "counters": state["counters"],
        "per_ticket_seconds": state["per_ticket_seconds"],
        "from_samples": state["from_samples"],
        "alerts": alerts_of(state),
        "served": sum(1 for t in tickets.values() if t["status"] == TicketStatus.DONE.value),
        "active": sum(
            1 for t in tickets.values() if t["status"] in {s.value for s in ACTIVE_STATUSES}
        ),
    }


def console_patients(view: dict[str, Any]) -> list[tuple[int, int]]:
    """(ticket id, patient id) of each registered patient whose full name a console view shows."""
    shown = [view["current"]] if view.get("current") else []
    shown += view.get("waiting", [])
    return [(t["id"], t["patient_id"]) for t in shown if t.get("patient_id")]
