"""Demo data for the virtual queue: counters at every service point, today's queues open, and a
past month of closed queues whose judged wait ranges feed the statistics."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from hospital import events
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


def seed_queues(hospital: Hospital, now: datetime) -> None:
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
    queues.open_todays_queues(now)


PAST_DAYS = 30
PAST_POINTS = 6  # enough queues for the charts, few enough to read the table
OPEN_HOURS = range(8, 17)


def seed_past_month(hospital: Hospital, now: datetime, *, days: int = PAST_DAYS) -> int:
    """Closed queues for the past month at every service point, each with the judged wait ranges
    a day of that queue would have sent the statistics (coverage settling at the 80 % target as
    the calibration learns). Only newly created past queues send figures, so seeding twice adds
    nothing. Returns the number of queues created."""
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
    db.session.flush()
    return created
