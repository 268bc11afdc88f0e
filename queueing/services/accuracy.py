"""Wait estimates with measured accuracy: record the range each waiting patient is shown, judge
it when they are called, and refit each queue's calibration from the judged ones.

Run by a job every few seconds rather than inside call-next: recording there would write a row
per waiting patient while the queue row is locked. A ticket gets a new record whenever its place
in line changed since its last one, so the records are the ranges shown at each change of
position (to within one job interval).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hospital import events
from hospital.db import db
from hospital.organisation.models import Hospital
from hospital.zones import zone_for
from queueing import eta
from queueing.models import (
    ServiceQueue,
    Ticket,
    TicketAction,
    TicketEvent,
    TicketStatus,
    WaitEstimate,
)
from queueing.snapshots import load_state, wait_ranges

CALIBRATION_WINDOW = timedelta(days=14)


def _queues_to_watch(*, now: datetime) -> list[ServiceQueue]:
    utc_day = now.astimezone(UTC).date()
    return list(
        db.session.scalars(
            sa.select(ServiceQueue)
            .where(
                # Closed queues too: closing stops issuing, and those waiting are still called.
                ServiceQueue.service_day.between(
                    utc_day - timedelta(days=1), utc_day + timedelta(days=1)
                ),
            )
            .order_by(ServiceQueue.id)
        )
    )


def record_shown(queue: ServiceQueue, *, now: datetime) -> int:
    """Record the range of each waiting ticket whose place changed since its last record."""
    state = load_state(queue.id, now=now)
    if state is None or not state["waiting"]:
        return 0
    ranges = wait_ranges(state, now=now)
    latest = (
        sa.select(WaitEstimate.ticket_id, sa.func.max(WaitEstimate.id).label("last_id"))
        .where(WaitEstimate.queue_id == queue.id, WaitEstimate.judged.is_(False))
        .group_by(WaitEstimate.ticket_id)
        .subquery()
    )
    last_ahead: dict[int, int] = {
        ticket_id: ahead
        for ticket_id, ahead in db.session.execute(
            sa.select(WaitEstimate.ticket_id, WaitEstimate.ahead).join(
                latest, latest.c.last_id == WaitEstimate.id
            )
        ).all()
    }
    rows = [
        {
            "hospital_id": queue.hospital_id,
            "queue_id": queue.id,
            "service_point_id": queue.service_point_id,
            "ticket_id": ticket_id,
            "shown_at": now,
            "ahead": shown.ahead,
            "expected_seconds": int(round(shown.expected_seconds)),
            "low_minutes": shown.low_minutes,
            "high_minutes": shown.high_minutes,
            "judged": False,
        }
        for ticket_id, shown in ranges.items()
        if last_ahead.get(ticket_id) != shown.ahead
    ]
    if rows:
        db.session.execute(sa.insert(WaitEstimate), rows)
    return len(rows)


def judge(queue: ServiceQueue, *, now: datetime) -> int:
    """Compare the queue's unjudged ranges of tickets called (or gone) since with the first call;
    tell the statistics, per local hour shown."""
    first_call = (
        sa.select(TicketEvent.ticket_id, sa.func.min(TicketEvent.at).label("called_at"))
        .where(TicketEvent.action == TicketAction.CALLED, TicketEvent.undone_at.is_(None))
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(WaitEstimate, first_call.c.called_at)
        .join(Ticket, Ticket.id == WaitEstimate.ticket_id)
        .outerjoin(first_call, first_call.c.ticket_id == WaitEstimate.ticket_id)
        .where(
            WaitEstimate.queue_id == queue.id,
            WaitEstimate.judged.is_(False),
            sa.or_(Ticket.status != TicketStatus.WAITING, Ticket.call_count > 0),
        )
    ).all()
    if not rows:
        return 0
    zone = zone_for(db.session.get_one(Hospital, queue.hospital_id))
    groups: dict[tuple[object, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for record, called_at in rows:
        record.judged = True
        record.judged_at = now
        if called_at is None:
            continue  # ended without a call (cancelled): nothing to compare
        shown = eta.WaitRange(
            record.ahead, record.expected_seconds, record.low_minutes, record.high_minutes, True
        )
        actual = max((called_at - record.shown_at).total_seconds(), 0.0)
        record.actual_seconds = int(actual)
        record.inside = shown.contains(actual)
        local = record.shown_at.astimezone(zone)
        group = groups[(local.date(), local.hour)]
        group[0] += 1
        group[1] += int(record.inside)
        group[2] += int(abs(shown.midpoint_seconds - actual))
    db.session.flush()
    for (day, hour), (shown_count, inside, error) in groups.items():
        events.wait_estimates_judged.send(
            "queueing",
            hospital_id=queue.hospital_id,
            service_point_id=queue.service_point_id,
            service_date=day,
            hour=hour,
            shown=shown_count,
            inside=inside,
            abs_error_seconds=error,
            now=now,
        )
    return len(rows)


def recalibrate(queue: ServiceQueue, *, now: datetime, target: float) -> eta.Calibration:
    """Refit the queue's factors on its service point's most recent judged ranges."""
    judged = db.session.execute(
        sa.select(WaitEstimate.expected_seconds, WaitEstimate.actual_seconds)
        .where(
            WaitEstimate.service_point_id == queue.service_point_id,
            WaitEstimate.judged_at >= now - CALIBRATION_WINDOW,
            WaitEstimate.actual_seconds.is_not(None),
        )
        .order_by(WaitEstimate.judged_at.desc(), WaitEstimate.id.desc())
        .limit(eta.CALIBRATION_SAMPLES)
    ).all()
    previous = (
        eta.Calibration(queue.eta_low_factor, queue.eta_high_factor, queue.eta_samples, None)
        if queue.eta_low_factor is not None and queue.eta_high_factor is not None
        else eta.UNCALIBRATED
    )
    fitted = eta.calibrate(
        [(float(e), float(a)) for e, a in reversed(judged)], target=target, previous=previous
    )
    if fitted is not previous:
        db.session.execute(
            sa.update(ServiceQueue)
            .where(ServiceQueue.id == queue.id)
            .values(
                eta_low_factor=fitted.low_factor,
                eta_high_factor=fitted.high_factor,
                eta_samples=fitted.samples,
            )
            .execution_options(synchronize_session="fetch")
        )
    return fitted


def track_wait_estimates(*, now: datetime, target: float) -> int:
    """One round of the job: judge what was called, refit, then record what is shown now."""
    recorded = 0
    for queue in _queues_to_watch(now=now):
        if judge(queue, now=now):
            recalibrate(queue, now=now, target=target)
        recorded += record_shown(queue, now=now)
    db.session.flush()
    return recorded
