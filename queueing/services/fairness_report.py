"""The daily fairness report for staff: per queue, the longest wait per priority class against
the no-starvation bound, and every call that went ahead of someone who came earlier, with the
reason the ordering used (ticket numbers only, no names)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.db import db
from hospital.organisation.models import ServicePoint
from hospital.zones import zone_for
from queueing import fairness, ordering
from queueing.models import ServiceQueue, Ticket, TicketAction, TicketEvent
from queueing.services.queues import get_hospital, may_work_at


@dataclass(frozen=True)
class PassingCall:
    at: str  # local HH:MM
    code: str
    reason: str  # as the passed patients were told (fairness.passing_reason)
    passed: int  # how many who came earlier were still waiting


@dataclass
class QueueFairness:
    queue_id: int
    place_zh: str
    place_en: str
    bound_minutes: int  # past this wait, no non-emergency priority patient passes a regular one
    longest_wait_minutes: dict[str, int] = field(default_factory=dict)  # per priority class
    violations: int = 0  # priority calls that passed a regular patient beyond the bound
    passing_calls: list[PassingCall] = field(default_factory=list)


def daily_report(*, actor: Account, day: date) -> list[QueueFairness]:
    """Fairness of one local day's queues the actor's roles work."""
    hospital = get_hospital(actor.hospital_id)
    zone = zone_for(hospital)
    rows = db.session.execute(
        sa.select(ServiceQueue, ServicePoint)
        .join(ServicePoint, ServicePoint.id == ServiceQueue.service_point_id)
        .where(ServiceQueue.hospital_id == hospital.id, ServiceQueue.service_day == day)
        .order_by(ServicePoint.code)
    ).all()
    report = []
    for queue, point in rows:
        if not may_work_at(actor=actor, point=point):
            continue
        report.append(_queue_fairness(queue, point, zone))
    return report


def _queue_fairness(queue: ServiceQueue, point: ServicePoint, zone: ZoneInfo) -> QueueFairness:
    tickets = {
        t.id: t for t in db.session.scalars(sa.select(Ticket).where(Ticket.queue_id == queue.id))
    }
    first_calls: dict[int, tuple[datetime, str]] = {}
    for ticket_id, at, detail in db.session.execute(
        sa.select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.detail)
        .where(
            TicketEvent.ticket_id.in_(list(tickets) or [0]),
            TicketEvent.action == TicketAction.CALLED,
            TicketEvent.undone_at.is_(None),
        )
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all():
        first_calls.setdefault(ticket_id, (at, detail))
    bound = timedelta(minutes=queue.ageing_minutes)
    result = QueueFairness(queue.id, point.name_zh, point.name_en, queue.ageing_minutes)
    longest: dict[str, int] = defaultdict(int)
    for ticket_id, (at, detail) in sorted(first_calls.items(), key=lambda item: item[1][0]):
        called = tickets[ticket_id]
        wait = int((at - called.arrived_at).total_seconds() // 60)
        longest[called.priority.value] = max(longest[called.priority.value], wait)
        still_waiting = [
            t
            for t in tickets.values()
            if t.id != ticket_id
            and t.arrived_at <= at
            and (t.id not in first_calls or first_calls[t.id][0] > at)
        ]
        passed = [t for t in still_waiting if t.arrived_at < called.arrived_at]
        if passed:
            result.passing_calls.append(
                PassingCall(
                    at.astimezone(zone).strftime("%H:%M"),
                    called.code,
                    fairness.passing_reason(detail, called.priority.value),
                    len(passed),
                )
            )
        if called.priority.value not in (ordering.NO_PRIORITY, ordering.EMERGENCY) and any(
            t.priority.value == ordering.NO_PRIORITY and at - t.arrived_at >= bound
            for t in still_waiting
        ):
            result.violations += 1
    result.longest_wait_minutes = dict(sorted(longest.items()))
    return result
