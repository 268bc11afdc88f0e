"""Demo data for the virtual queue: counters at every service point, today's queues open, and a
past month of closed queues whose judged wait ranges feed the statistics."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from hospital import events
from hospital.accounts.models import Account
from hospital.db import db
from hospital.organisation.models import Hospital, ServicePoint, ServicePointKind
from hospital.zones import local_date, zone_for
from queueing.models import Counter, QueueStatus
from queueing.services import counters, queues

# Counters (windows) per kind of service point; a consultation room has one.
WINDOWS = {
    ServicePointKind.CASHIER: 2,
    ServicePointKind.LAB_DRAW: 2,
    ServicePointKind.PHARMACY: 2,
    ServicePointKind.REGISTRATION_DESK: 2,
}


def seed_queues(hospital: Hospital, *, now: datetime) -> None:
    """Give every service point its counters (once) and open today's queues."""
    points = db.session.scalars(
        sa.select(ServicePoint)
        .where(ServicePoint.hospital_id == hospital.id)
        .order_by(ServicePoint.id)
    ).all()
    existing = set(
        db.session.execute(
            sa.select(Counter.service_point_id, Counter.code).where(
                Counter.hospital_id == hospital.id
            )
        ).all()
    )
    for point in points:
        for n in range(1, WINDOWS.get(point.kind, 1) + 1):
            if (point.id, str(n)) in existing:
                continue
            if point.kind is ServicePointKind.CONSULTATION_ROOM:
                name_zh, name_en = point.name_zh, point.name_en
            else:
                name_zh, name_en = f"{n}号窗口", f"Window {n}"
            counters.create_counter(
                actor=None,
                hospital_id=hospital.id,
                service_point_id=point.id,
                code=str(n),
                name_zh=name_zh,
                name_en=name_en,
            )
    db.session.flush()
    queues.open_todays_queues(now=now)


PAST_DAYS = 30
PAST_POINTS = 6  # enough queues for the charts, few enough to read the table
OPEN_HOURS = range(8, 17)


def seed_past_month(
    hospital: Hospital, *, now: datetime, days: int = PAST_DAYS, work: PastWork | None = None
) -> int:
    """Closed queues for the past month at every service point, each with the judged wait ranges
    a day of that queue would have sent the statistics (coverage settling at the 80 % target as
    the calibration learns). Only newly created past queues send figures, so seeding twice adds
    nothing. With `work`, each new past day's visits, pauses and survey answers are added to it
    for the statistics. Returns the number of queues created."""
    rng = random.Random(hospital.id)
    points = db.session.scalars(
        sa.select(ServicePoint)
        .where(ServicePoint.hospital_id == hospital.id, ServicePoint.is_active.is_(True))
        .order_by(ServicePoint.id)
        .limit(PAST_POINTS)
    ).all()
    today = local_date(now, zone_for(hospital))
    created = 0
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        if day.weekday() == 6:  # closed on Sundays
            continue
        for point in points:
            queue, new = queues.get_or_create_queue(point, day, now=now, actor=None, prefix=None)
            if not new:
                continue
            queue.status = QueueStatus.CLOSED
            created += 1
            # Early in the month the ranges are less well calibrated (fewer judged estimates).
            aim = 0.8 - 0.12 * max(back - 20, 0) / 10
            busy = 3.0 if point.kind is ServicePointKind.CONSULTATION_ROOM else 6.0
            for hour in OPEN_HOURS:
                rush = 1.6 if hour in (9, 10) else 0.6 if hour == 12 else 1.0
                shown = max(int(rng.gauss(busy * 4 * rush, 3)), 1)
                inside = sum(rng.random() < rng.gauss(aim, 0.04) for _ in range(shown))
                error = int(shown * rng.uniform(150, 420) * rush)
                events.wait_estimates_judged.send(
                    "queueing",
                    hospital_id=hospital.id,
                    service_point_id=point.id,
                    service_date=day,
                    hour=hour,
                    shown=shown,
                    inside=inside,
                    abs_error_seconds=error,
                    now=now,
                )
            if work is not None:
                _seed_day_of_work(hospital, point, queue.id, day, rng, work)
    db.session.flush()
    return created


COMMENTS = (
    "医生很耐心，讲得很清楚。",
    "等候时间有点长，希望能再快一些。",
    "The nurse was very kind to my mother.",
    "叫号屏的字可以再大一点。",
    "Clear directions, thank you.",
)


@dataclass
class PastWork:
    """A past month of work as the statistics keep it, one plain record per visit, pause and
    survey answer (the demo hands it to the statistics in bulk: a signal per record is slow)."""

    visits: list[dict[str, Any]] = field(default_factory=list)
    pauses: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)


def _seed_day_of_work(
    hospital: Hospital,
    point: ServicePoint,
    queue_id: int,
    day: date,
    rng: random.Random,
    work: PastWork,
) -> None:
    """One past day at a service point: arrivals, calls, service and pauses at its counters by
    the staff, and (after consultations) some survey answers. The ids are negative so they
    never meet a real ticket's or survey's."""
    zone = zone_for(hospital)
    desks = list(
        db.session.scalars(
            sa.select(Counter).where(Counter.service_point_id == point.id).order_by(Counter.id)
        )
    )
    staff = list(
        db.session.scalars(
            sa.select(Account.id)
            .where(Account.hospital_id == hospital.id, Account.username.is_not(None))
            .order_by(Account.id)
        )
    )
    if not desks or not staff:
        return
    consultation = point.kind is ServicePointKind.CONSULTATION_ROOM
    per_hour, service_minutes = (3.0, 7.0) if consultation else (6.0, 2.5)
    start = datetime.combine(day, time(OPEN_HOURS.start), tzinfo=zone).astimezone(UTC)
    free_at = {desk.id: start for desk in desks}
    staffed = {desk.id: staff[(desk.id + day.toordinal()) % len(staff)] for desk in desks}
    # Some counters take a lunch pause.
    for desk in desks:
        if rng.random() < 0.4:
            paused = datetime.combine(day, time(12, rng.randrange(0, 20)), tzinfo=zone)
            paused = paused.astimezone(UTC)
            back = paused + timedelta(minutes=rng.randrange(15, 45))
            work.pauses.append(
                {
                    "hospital_id": hospital.id,
                    "counter_id": desk.id,
                    "counter_code": desk.code,
                    "counter_point_id": desk.service_point_id,
                    "staff_account_id": staffed[desk.id],
                    "service_date": day,
                    "paused_at": paused,
                    "resumed_at": back,
                    "seconds": int((back - paused).total_seconds()),
                }
            )
            free_at[desk.id] = max(free_at[desk.id], back)
    n = 0
    for hour in OPEN_HOURS:
        rush = 1.6 if hour in (9, 10) else 0.5 if hour == 12 else 1.0
        for _ in range(max(int(rng.gauss(per_hour * rush, 1.0)), 0)):
            n += 1
            ticket_id = -(queue_id * 1000 + n)
            arrived = start + timedelta(hours=hour - OPEN_HOURS.start, minutes=rng.uniform(0, 59))
            desk = min(desks, key=lambda d: free_at[d.id])
            called = max(arrived + timedelta(minutes=1), free_at[desk.id]) + timedelta(
                seconds=rng.uniform(10, 90)
            )
            began = called + timedelta(seconds=rng.uniform(20, 150))
            done = began + timedelta(minutes=max(rng.gauss(service_minutes, 1.5), 0.5))
            free_at[desk.id] = done
            work.visits.append(
                {
                    "hospital_id": hospital.id,
                    "ticket_id": ticket_id,
                    "service_date": day,
                    "department_id": point.department_id,
                    "service_point_id": point.id,
                    "checked_in_at": arrived,
                    "called_at": called,
                    "started_at": began,
                    "completed_at": done,
                    "wait_seconds": int((called - arrived).total_seconds()),
                    "service_seconds": int((done - began).total_seconds()),
                    "counter_id": desk.id,
                    "counter_code": desk.code,
                    "counter_point_id": desk.service_point_id,
                    "staff_account_id": staffed[desk.id],
                }
            )
            if consultation and rng.random() < 0.3:
                overall = rng.choices((2, 3, 4, 5), weights=(1, 2, 5, 6))[0]
                work.answers.append(
                    {
                        "hospital_id": hospital.id,
                        "survey_id": ticket_id,
                        "department_id": point.department_id,
                        "service_date": day,
                        "wait_score": max(1, overall - rng.randrange(0, 2)),
                        "staff_score": min(5, overall + rng.randrange(0, 2)),
                        "overall_score": overall,
                        "comment": rng.choice(COMMENTS) if rng.random() < 0.15 else "",
                        "via": rng.choice(("link", "link", "kiosk")),
                        "answered_at": done + timedelta(hours=1),
                    }
                )
