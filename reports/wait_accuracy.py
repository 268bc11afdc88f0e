"""How accurate the queues' wait ranges were: a summary fed by queueing's judgements, and the
figures the statistics page shows per queue and day (coverage, mean error) and through the day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from hospital import events
from hospital.db import db
from hospital.organisation.models import Hospital, ServicePoint
from reports.models import WaitAccuracySummary
from reports.summary_feed import upsert_insert


def on_wait_estimates_judged(
    _sender: Any,
    *,
    hospital_id: int,
    service_point_id: int,
    service_date: date,
    hour: int,
    shown: int,
    inside: int,
    abs_error_seconds: int,
    now: datetime,
    **_kw: Any,
) -> None:
    """Add the judged ranges to their hour's row (one upsert)."""
    table = WaitAccuracySummary
    statement = (
        upsert_insert()(table)
        .values(
            hospital_id=hospital_id,
            service_point_id=service_point_id,
            service_date=service_date,
            hour=hour,
            shown=shown,
            inside=inside,
            abs_error_seconds=abs_error_seconds,
        )
        .on_conflict_do_update(
            index_elements=["hospital_id", "service_point_id", "service_date", "hour"],
            set_={
                "shown": table.shown + shown,
                "inside": table.inside + inside,
                "abs_error_seconds": table.abs_error_seconds + abs_error_seconds,
            },
        )
    )
    db.session.execute(statement)


RECEIVERS = ((events.wait_estimates_judged, on_wait_estimates_judged),)


@dataclass(frozen=True)
class QueueDay:
    point: str
    day: date
    shown: int
    coverage: float  # share of ranges the patient was called inside
    mae_minutes: float  # mean absolute error of the range's midpoint


@dataclass(frozen=True)
class WaitAccuracy:
    rows: list[QueueDay]
    hours: list[int]
    coverage_by_hour: list[float | None]  # in percent, all queues together
    shown: int
    coverage: float | None


def wait_accuracy(hospital: Hospital, *, start: date, end: date, language: str) -> WaitAccuracy:
    """Per queue and day, and per hour of the day over the range."""
    t = WaitAccuracySummary
    in_range = (
        t.hospital_id == hospital.id,
        t.service_date >= start,
        t.service_date <= end,
    )
    per_day = db.session.execute(
        sa.select(
            ServicePoint.name_zh,
            ServicePoint.name_en,
            t.service_date,
            sa.func.sum(t.shown),
            sa.func.sum(t.inside),
            sa.func.sum(t.abs_error_seconds),
        )
        .join(ServicePoint, ServicePoint.id == t.service_point_id)
        .where(*in_range)
        .group_by(ServicePoint.id, ServicePoint.name_zh, ServicePoint.name_en, t.service_date)
        .order_by(t.service_date.desc(), ServicePoint.name_en)
    ).all()
    rows = [
        QueueDay(
            point=name_zh if language == "zh" else name_en,
            day=day,
            shown=int(shown),
            coverage=int(inside) / int(shown),
            mae_minutes=round(int(error) / int(shown) / 60, 1),
        )
        for name_zh, name_en, day, shown, inside, error in per_day
        if shown
    ]
    by_hour = dict(
        (hour, (int(shown), int(inside)))
        for hour, shown, inside in db.session.execute(
            sa.select(t.hour, sa.func.sum(t.shown), sa.func.sum(t.inside))
            .where(*in_range)
            .group_by(t.hour)
        ).all()
    )
    hours = sorted(by_hour)
    total_shown = sum(s for s, _i in by_hour.values())
    total_inside = sum(i for _s, i in by_hour.values())
    return WaitAccuracy(
        rows=rows,
        hours=hours,
        coverage_by_hour=[
            round(100 * by_hour[h][1] / by_hour[h][0], 1) if by_hour[h][0] else None for h in hours
        ],
        shown=total_shown,
        coverage=total_inside / total_shown if total_shown else None,
    )
