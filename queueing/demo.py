"""Demo data for the virtual queue: counters at every service point, and today's queues open."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Hospital, ServicePoint, ServicePointKind
from queueing.models import Counter
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
