"""Staff productivity and the hour-of-day heatmap: queries on the summary summary_feed keeps.

Per counter and staff member: calls, mean service time, mean walk time (called to started),
idle time (from one patient's end to the next call, pauses left out) and pauses. Per queue:
arrivals and mean waits by local hour of the day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.db import db
from hospital.organisation.models import Hospital, ServicePoint
from hospital.zones import zone_for
from reports.models import CounterPauseSummary, VisitSummary


@dataclass(frozen=True)
class StaffRow:
    counter: str
    staff: str
    calls: int
    service_minutes: float | None  # mean, over the patients completed
    walk_minutes: float | None  # mean, over the patients whose service was started
    idle_minutes: float  # total
    pauses: int
    pause_minutes: float  # total, of the pauses that ended


@dataclass(frozen=True)
class HeatCell:
    value: float | None
    level: int  # 0 (none) to 5 (the range's highest), for the colour


@dataclass(frozen=True)
class HeatRow:
    point: str
    arrivals: list[HeatCell]
    waits: list[HeatCell]  # mean wait in minutes of the patients who arrived in that hour


@dataclass(frozen=True)
class Heatmap:
    hours: list[int]
    rows: list[HeatRow]


@dataclass
class _Tally:
    calls: int = 0
    service: list[int] | None = None
    walk: list[int] | None = None
    idle_seconds: float = 0.0
    pauses: int = 0
    pause_seconds: int = 0

    def __post_init__(self) -> None:
        self.service, self.walk = [], []


def _point_names(hospital: Hospital, ids: set[int], language: str) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(ServicePoint.id, ServicePoint.name_zh, ServicePoint.name_en).where(
            ServicePoint.hospital_id == hospital.id, ServicePoint.id.in_(ids)
        )
    ).all()
    return {i: (zh if language == "zh" else en) or en or zh for i, zh, en in rows}


def _staff_names(hospital: Hospital, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Account.id, Account.display_name, Account.username).where(
            Account.hospital_id == hospital.id, Account.id.in_(ids)
        )
    ).all()
    return {i: name or username or f"#{i}" for i, name, username in rows}


def _overlap(start: datetime, end: datetime, spans: list[tuple[datetime, datetime]]) -> float:
    return sum(
        max(0.0, (min(end, b) - max(start, a)).total_seconds()) for a, b in spans if b > start
    )


def staff_productivity(
    hospital: Hospital, *, start: date, end: date, language: str
) -> list[StaffRow]:
    """One row per counter and staff member who called from it in the range."""
    v = VisitSummary
    visits = db.session.execute(
        sa.select(
            v.counter_id,
            v.counter_code,
            v.counter_point_id,
            v.staff_account_id,
            v.service_date,
            v.called_at,
            v.started_at,
            v.completed_at,
            v.service_seconds,
        )
        .where(
            v.hospital_id == hospital.id,
            v.service_date >= start,
            v.service_date <= end,
            v.counter_id.is_not(None),
            v.called_at.is_not(None),
        )
        .order_by(v.counter_id, v.called_at)
    ).all()
    p = CounterPauseSummary
    pauses = db.session.execute(
        sa.select(
            p.counter_id,
            p.counter_code,
            p.counter_point_id,
            p.staff_account_id,
            p.service_date,
            p.paused_at,
            p.resumed_at,
            p.seconds,
        ).where(p.hospital_id == hospital.id, p.service_date >= start, p.service_date <= end)
    ).all()
    labels: dict[int, tuple[str, int]] = {}
    tallies: dict[tuple[int, int | None], _Tally] = defaultdict(_Tally)
    spans: dict[tuple[int, date], list[tuple[datetime, datetime]]] = defaultdict(list)
    for counter_id, code, point_id, staff_id, day, paused_at, resumed_at, seconds in pauses:
        labels.setdefault(counter_id, (code, point_id))
        tally = tallies[(counter_id, staff_id)]
        tally.pauses += 1
        tally.pause_seconds += seconds or 0
        spans[(counter_id, day)].append((paused_at, resumed_at or paused_at))
    previous: dict[tuple[int, date], datetime | None] = {}
    for (
        counter_id,
        code,
        point_id,
        staff_id,
        day,
        called_at,
        started_at,
        completed_at,
        service_seconds,
    ) in visits:
        labels[counter_id] = (code or "", point_id)
        tally = tallies[(counter_id, staff_id)]
        tally.calls += 1
        if service_seconds is not None and completed_at is not None:
            assert tally.service is not None
            tally.service.append(service_seconds)
        if started_at is not None:
            assert tally.walk is not None
            tally.walk.append(max(0, int((started_at - called_at).total_seconds())))
        freed = previous.get((counter_id, day))
        if freed is not None and called_at > freed:
            gap = (called_at - freed).total_seconds()
            tally.idle_seconds += gap - _overlap(freed, called_at, spans[(counter_id, day)])
        previous[(counter_id, day)] = completed_at
    points = _point_names(hospital, {point for _code, point in labels.values()}, language)
    staff = _staff_names(hospital, {s for _c, s in tallies if s is not None})

    def mean_minutes(values: list[int] | None) -> float | None:
        return round(sum(values) / len(values) / 60, 1) if values else None

    rows = [
        StaffRow(
            counter=f"{points.get(labels[c][1], '')} {labels[c][0]}".strip(),
            staff=staff.get(s, "") if s is not None else "",
            calls=t.calls,
            service_minutes=mean_minutes(t.service),
            walk_minutes=mean_minutes(t.walk),
            idle_minutes=round(max(0.0, t.idle_seconds) / 60, 1),
            pauses=t.pauses,
            pause_minutes=round(t.pause_seconds / 60, 1),
        )
        for (c, s), t in tallies.items()
    ]
    return sorted(rows, key=lambda r: (r.counter, r.staff))


def _level(value: float | None, top: float) -> int:
    if not value or top <= 0:
        return 0
    return max(1, min(5, math.ceil(5 * value / top)))


def queue_heatmap(hospital: Hospital, *, start: date, end: date, language: str) -> Heatmap:
    """Per queue (service point) and local hour of arrival: arrivals and the mean wait."""
    v = VisitSummary
    zone = zone_for(hospital)
    arrivals: dict[tuple[int, int], int] = defaultdict(int)
    waits: dict[tuple[int, int], list[int]] = defaultdict(list)
    for point_id, checked_in_at, wait_seconds in db.session.execute(
        sa.select(v.service_point_id, v.checked_in_at, v.wait_seconds).where(
            v.hospital_id == hospital.id,
            v.service_date >= start,
            v.service_date <= end,
            v.service_point_id.is_not(None),
            v.checked_in_at.is_not(None),
        )
    ).all():
        hour = checked_in_at.astimezone(zone).hour
        arrivals[(point_id, hour)] += 1
        if wait_seconds is not None:
            waits[(point_id, hour)].append(wait_seconds)
    if not arrivals:
        return Heatmap(hours=[], rows=[])
    hours = list(range(min(h for _p, h in arrivals), max(h for _p, h in arrivals) + 1))
    mean_wait = {k: round(sum(w) / len(w) / 60, 1) for k, w in waits.items() if w}
    top_arrivals = max(arrivals.values())
    top_wait = max(mean_wait.values(), default=0.0)
    names = _point_names(hospital, {p for p, _h in arrivals}, language)
    rows = [
        HeatRow(
            point=names.get(point_id, f"#{point_id}"),
            arrivals=[
                HeatCell(
                    float(arrivals.get((point_id, h), 0)),
                    _level(arrivals.get((point_id, h), 0), top_arrivals),
                )
                for h in hours
            ],
            waits=[
                HeatCell(
                    mean_wait.get((point_id, h)), _level(mean_wait.get((point_id, h)), top_wait)
                )
                for h in hours
            ],
        )
        for point_id in sorted({p for p, _h in arrivals}, key=lambda p: names.get(p, ""))
    ]
    return Heatmap(hours=hours, rows=rows)
