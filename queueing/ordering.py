"""The order in which waiting tickets are called, and why: pure, no Flask and no database.

Two lanes. The regular lane is ordered by `order_key`: a booked patient's slot time when they
arrive before the slot plus a grace period, else the arrival time, so walk-ins interleave with
late and early arrivals. The priority lane (aged, disability, pregnancy, returning with results)
is served one ticket per `priority_ratio` regular tickets. Emergencies go first. A regular ticket
that has waited longer than `ageing` is never passed by a non-emergency priority ticket, so no
regular ticket waits for ever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

EMERGENCY = "emergency"
NO_PRIORITY = "none"

# Reason codes; the console turns each into a sentence.
REASON_EMERGENCY = "emergency"
REASON_PRIORITY_TURN = "priority_turn"
REASON_ONLY_PRIORITY = "only_priority_waiting"
REASON_WAITED_LONG = "waited_long"
REASON_BOOKED_SLOT = "booked_slot"
REASON_ARRIVAL = "arrival_order"
REASON_REQUEUED = "requeued_after_miss"

ONE_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Waiting:
    """What the policy needs to know about a waiting ticket."""

    id: int
    number: int
    priority: str
    order_key: datetime
    arrived_at: datetime
    slot_start: datetime | None = None
    misses: int = 0


@dataclass(frozen=True)
class Policy:
    priority_ratio: int = 2
    ageing: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class Placement:
    """A ticket's place in the projected order, with the reason it stands there."""

    ticket: Waiting
    position: int  # 0 = called next
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


def arrival_order_key(
    *, slot_start: datetime | None, arrived_at: datetime, grace: timedelta
) -> datetime:
    """A booked patient keeps their slot time if they arrive by slot + grace; else arrival time."""
    if slot_start is not None and arrived_at <= slot_start + grace:
        return slot_start
    return arrived_at


def order_key_after_miss(waiting_keys: list[datetime], *, setback: int, now: datetime) -> datetime:
    """Put a missed ticket `setback` places behind the head of its lane (or at its end)."""
    keys = sorted(waiting_keys)
    if not keys:
        return now
    anchor = keys[min(setback, len(keys)) - 1] if setback > 0 else keys[0] - ONE_TICK
    return anchor + ONE_TICK


def _lane_key(ticket: Waiting) -> tuple[datetime, int]:
    return (ticket.order_key, ticket.number)


def _regular_reason(ticket: Waiting) -> tuple[str, dict[str, Any]]:
    if ticket.misses:
        return REASON_REQUEUED, {"misses": ticket.misses}
    if ticket.slot_start is not None and ticket.order_key == ticket.slot_start:
        return REASON_BOOKED_SLOT, {"slot_start": ticket.slot_start.isoformat()}
    return REASON_ARRIVAL, {"arrived_at": ticket.arrived_at.isoformat()}


def order(
    waiting: list[Waiting],
    *,
    policy: Policy,
    regular_since_priority: int,
    now: datetime,
) -> list[Placement]:
    """Project the order in which the waiting tickets will be called, each with its reason."""
    ratio = max(policy.priority_ratio, 1)
    emergency = sorted((t for t in waiting if t.priority == EMERGENCY), key=_lane_key)
    priority = sorted(
        (t for t in waiting if t.priority not in (EMERGENCY, NO_PRIORITY)), key=_lane_key
    )
    regular = sorted((t for t in waiting if t.priority == NO_PRIORITY), key=_lane_key)
    since = regular_since_priority
    placements: list[Placement] = []
    e = p = r = 0
    while e < len(emergency) or p < len(priority) or r < len(regular):
        position = len(placements)
        if e < len(emergency):
            placements.append(Placement(emergency[e], position, REASON_EMERGENCY))
            e += 1
            continue
        head = regular[r] if r < len(regular) else None
        has_priority = p < len(priority)
        if head is not None and has_priority and now - head.arrived_at >= policy.ageing:
            minutes = int((now - head.arrived_at).total_seconds() // 60)
            placements.append(
                Placement(head, position, REASON_WAITED_LONG, {"waited_minutes": minutes})
            )
            r += 1
            since += 1
            continue
        if has_priority and (head is None or since >= ratio):
            ticket = priority[p]
            # "Only priority patients" only when no regular patient waits at all: in the
            # projection a priority ticket placed after the regular ones ahead of it still
            # stands there by the priority lane's turn (the console once said "only priority
            # patients" next to a regular patient in the same list).
            if not regular:
                placements.append(
                    Placement(ticket, position, REASON_ONLY_PRIORITY, {"class": ticket.priority})
                )
            else:
                placements.append(
                    Placement(
                        ticket,
                        position,
                        REASON_PRIORITY_TURN,
                        {"class": ticket.priority, "ratio": ratio, "regular_since": since},
                    )
                )
            p += 1
            since = 0
            continue
        assert head is not None
        reason, detail = _regular_reason(head)
        if has_priority:
            detail = {**detail, "priority_after": ratio - since}
        placements.append(Placement(head, position, reason, detail))
        r += 1
        since += 1
    return placements


def next_ticket(
    waiting: list[Waiting], *, policy: Policy, regular_since_priority: int, now: datetime
) -> Placement | None:
    """The ticket to call next, with why; None when nobody waits."""
    placed = order(waiting, policy=policy, regular_since_priority=regular_since_priority, now=now)
    return placed[0] if placed else None
