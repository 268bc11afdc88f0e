"""Operations statistics: the queries on the summary that reports.summary_feed keeps.

The summary is fed by other modules' signals (see summary_feed.py); the queries here read only it,
so a year of statistics stays one indexed scan.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dc_fields
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from hospital.db import db, utcnow
from hospital.organisation.models import Clinician, Department, Hospital
from hospital.visits import services as visit_stops
from hospital.zones import day_bounds, local_date, zone_for
from reports.models import LabReport, PaymentSummary, VisitSummary

MAX_RANGE_DAYS = 366


# ---- queries ---------------------------------------------------------------------------------


class GroupBy(enum.StrEnum):
    DAY = "day"
    DEPARTMENT = "department"
    CLINICIAN = "clinician"


_FIRST_COUNTED = date.min + timedelta(days=1)
_LAST_COUNTED = date.max - timedelta(days=1)


class _StatsRangeArgs(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    group_by = fields.Enum(GroupBy, by_value=True, load_default=GroupBy.DAY)


class StatsQueryArgs(_StatsRangeArgs):
    """The API's range: every pair of dates has a meaning (a query string cannot document more)."""

    end = fields.Date(
        required=True,
        metadata={
            "description": f"The last day counted. At most {MAX_RANGE_DAYS} days from `start` "
            "are counted (later days are left out); an `end` before `start` counts nothing."
        },
    )

    @post_load
    def _window(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        days_left = (date.max - data["start"]).days
        window = timedelta(days=min(MAX_RANGE_DAYS - 1, days_left))
        data["end"] = min(data["end"], data["start"] + window)
        return data


class ReportStatsArgs(_StatsRangeArgs):
    """The statistics page's range: a person is told to fix a reversed or too long one."""

    @validates_schema
    def ordered_range(self, data: dict[str, Any], **_kw: Any) -> None:
        if data["end"] < data["start"]:
            raise ValidationError(str(_l("The end date must not be before the start date.")), "end")
        if (data["end"] - data["start"]).days >= MAX_RANGE_DAYS:
            raise ValidationError(str(_l("Choose at most 366 days.")), "end")


@dataclass
class StatsRow:
    key: str
    label: str
    booked: int = 0
    checked_in: int = 0
    no_shows: int = 0
    cancellations: int = 0
    completed: int = 0
    no_show_rate: float | None = None
    wait_p50_min: float | None = None
    wait_p90_min: float | None = None
    service_avg_min: float | None = None
    patients_per_hour: float | None = None
    revenue_fen: int = 0
    online_bookings: int = 0
    online_payments: int = 0
    report_pickups: int = 0
    queues_avoided: int = 0
    # From the visits' own events (hospital/visits): visits, and the stops they replaced.
    visits: int = 0
    stops_avoided: int = 0
    stops_per_visit: float | None = None


@dataclass
class StatsTable:
    start: date
    end: date
    group_by: GroupBy
    rows: list[StatsRow] = field(default_factory=list)
    total: StatsRow = field(default_factory=lambda: StatsRow("total", str(_l("Total"))))
    # Per day and department: visits and the physical stops they replaced.
    visit_stops: list[VisitStopsRow] = field(default_factory=list)


@dataclass
class VisitStopsRow:
    day: date
    department: str
    visits: int
    registration: int
    cashier: int
    waiting_hall: int
    report_window: int
    station_numbers: int
    total: int


def percentile(values: list[int], fraction: float) -> float | None:
    """Linear-interpolated percentile (as PostgreSQL's percentile_cont) of sorted values."""
    if not values:
        return None
    position = (len(values) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _key_column(group_by: GroupBy, table: Any) -> Any:
    return {
        GroupBy.DAY: table.service_date,
        GroupBy.DEPARTMENT: table.department_id,
        GroupBy.CLINICIAN: table.clinician_id,
    }[group_by]


_Named = TypeVar("_Named", Department, Clinician)


def _named_rows(model: type[_Named], ids: list[int], hospital: Hospital) -> Sequence[_Named]:
    return db.session.scalars(
        sa.select(model).where(model.id.in_(ids), model.hospital_id == hospital.id)
    ).all()


def _labels(hospital: Hospital, group_by: GroupBy, keys: set[Any], language: str) -> dict[Any, str]:
    if group_by is GroupBy.DAY:
        return {k: k.isoformat() for k in keys}
    ids = [k for k in keys if k is not None]
    rows: Sequence[Department | Clinician] = []
    if ids and group_by is GroupBy.DEPARTMENT:
        rows = _named_rows(Department, ids, hospital)
    elif ids:
        rows = _named_rows(Clinician, ids, hospital)
    names = {r.id: (r.name_zh if language == "zh" else r.name_en) for r in rows}
    return {k: names.get(k, str(_l("Not assigned")) if k is None else f"#{k}") for k in keys}


def _visit_aggregates(
    hospital: Hospital, start: date, end: date, group_by: GroupBy
) -> tuple[dict[Any, dict[str, Any]], tuple[float | None, float | None]]:
    """Per-group visit figures, and the waiting-time p50/p90 over all visits in the range."""
    v = VisitSummary
    key = _key_column(group_by, v)
    booked_live = sa.and_(v.booked, sa.not_(v.cancelled))
    columns = [
        sa.func.sum(sa.case((v.booked, 1), else_=0)).label("booked"),
        sa.func.count(v.checked_in_at).label("checked_in"),
        sa.func.sum(sa.case((sa.and_(booked_live, v.no_show), 1), else_=0)).label("no_shows"),
        sa.func.sum(sa.case((booked_live, 1), else_=0)).label("booked_live"),
        sa.func.sum(sa.case((v.cancelled, 1), else_=0)).label("cancellations"),
        sa.func.count(v.completed_at).label("completed"),
        sa.func.sum(v.service_seconds).label("service_sum"),
        sa.func.count(v.service_seconds).label("service_n"),
        sa.func.sum(sa.case((v.booked_online, 1), else_=0)).label("online_bookings"),
    ]
    where = (v.hospital_id == hospital.id, v.service_date >= start, v.service_date <= end)
    if db.engine.dialect.name == "postgresql":
        # One pass: ROLLUP adds the total row, whose percentiles span every visit (an average
        # of per-group percentiles would be wrong).
        query = (
            sa.select(
                key.label("key"),
                sa.func.grouping(key).label("is_total"),
                *columns,
                sa.func.percentile_cont(0.5).within_group(v.wait_seconds).label("wait_p50"),
                sa.func.percentile_cont(0.9).within_group(v.wait_seconds).label("wait_p90"),
            )
            .where(*where)
            .group_by(sa.func.rollup(key))
        )
        result: dict[Any, dict[str, Any]] = {}
        totals: tuple[float | None, float | None] = (None, None)
        for row in db.session.execute(query):
            if row.is_total:
                totals = (row.wait_p50, row.wait_p90)
            else:
                result[row.key] = dict(row._mapping)
        return result, totals
    query = sa.select(key.label("key"), *columns).where(*where).group_by(key)
    result = {row.key: dict(row._mapping) for row in db.session.execute(query)}
    waits: dict[Any, list[int]] = {}
    every: list[int] = []
    for k, seconds in db.session.execute(
        sa.select(key, v.wait_seconds).where(*where, v.wait_seconds.is_not(None))
    ):
        waits.setdefault(k, []).append(seconds)
        every.append(seconds)
    for k, values in waits.items():
        values.sort()
        result[k]["wait_p50"] = percentile(values, 0.5)
        result[k]["wait_p90"] = percentile(values, 0.9)
    every.sort()
    return result, (percentile(every, 0.5), percentile(every, 0.9))


def _payment_aggregates(
    hospital: Hospital, start: date, end: date, group_by: GroupBy
) -> dict[Any, dict[str, Any]]:
    p = PaymentSummary
    key = _key_column(group_by, p).label("key")
    query = (
        sa.select(
            key,
            sa.func.sum(p.amount_fen - p.refunded_fen).label("revenue"),
            sa.func.sum(sa.case((p.online, 1), else_=0)).label("online_payments"),
        )
        .where(p.hospital_id == hospital.id, p.service_date >= start, p.service_date <= end)
        .group_by(key)
    )
    return {row.key: dict(row._mapping) for row in db.session.execute(query)}


def _report_pickups(hospital: Hospital, start: date, end: date) -> dict[date, int]:
    """Reports first opened online per local day: each is one trip to the report window saved."""
    zone = zone_for(hospital)
    since, until = day_bounds(start, zone)[0], day_bounds(end, zone)[1]
    where = (
        LabReport.hospital_id == hospital.id,
        LabReport.first_viewed_at >= since,
        LabReport.first_viewed_at < until,
    )
    if db.engine.dialect.name == "postgresql":
        day = sa.cast(sa.func.timezone(hospital.timezone, LabReport.first_viewed_at), sa.Date)
        rows = db.session.execute(sa.select(day, sa.func.count()).where(*where).group_by(day))
        return {d: n for d, n in rows}
    counts: dict[date, int] = {}
    for (moment,) in db.session.execute(sa.select(LabReport.first_viewed_at).where(*where)):
        on = local_date(moment, zone)
        counts[on] = counts.get(on, 0) + 1
    return counts


def operations(
    hospital: Hospital,
    *,
    start: date,
    end: date,
    group_by: GroupBy = GroupBy.DAY,
    language: str = "zh",
) -> StatsTable:
    """Compute the statistics for [start, end] (local dates), one row per day/department/clinician."""
    # A day's bounds in UTC exist only a day inside the calendar's ends; nothing happened there.
    start, end = max(start, _FIRST_COUNTED), min(end, _LAST_COUNTED)
    visits, (p50, p90) = _visit_aggregates(hospital, start, end, group_by)
    payments = _payment_aggregates(hospital, start, end, group_by)
    pickups = _report_pickups(hospital, start, end)
    per_visit = visit_stops.stops_avoided(hospital.id, start, end)
    by_key: dict[Any, tuple[int, int]] = {}
    if group_by is not GroupBy.CLINICIAN:
        for s in per_visit:
            k = s.service_date if group_by is GroupBy.DAY else s.department_id
            n, total_stops = by_key.get(k, (0, 0))
            by_key[k] = (n + s.visits, total_stops + s.total)
    keys = set(visits) | set(payments) | set(by_key)
    if group_by is GroupBy.DAY:
        keys |= set(pickups)
    labels = _labels(hospital, group_by, keys, language)
    table = StatsTable(start, end, group_by)
    total = table.total
    service_sum = service_n = booked_live = 0
    for k in sorted(keys, key=lambda x: (x is None, x if group_by is GroupBy.DAY else labels[x])):
        v = visits.get(k, {})
        p = payments.get(k, {})
        row = StatsRow(key=str(k) if k is not None else "", label=labels[k])
        row.booked = int(v.get("booked") or 0)
        row.checked_in = int(v.get("checked_in") or 0)
        row.no_shows = int(v.get("no_shows") or 0)
        row.cancellations = int(v.get("cancellations") or 0)
        row.completed = int(v.get("completed") or 0)
        live = int(v.get("booked_live") or 0)
        row.no_show_rate = round(row.no_shows / live, 4) if live else None
        row.wait_p50_min = _minutes(v.get("wait_p50"))
        row.wait_p90_min = _minutes(v.get("wait_p90"))
        s_sum, s_n = int(v.get("service_sum") or 0), int(v.get("service_n") or 0)
        row.service_avg_min = _minutes(s_sum / s_n) if s_n else None
        row.patients_per_hour = round(s_n * 3600 / s_sum, 1) if s_sum else None
        row.revenue_fen = int(p.get("revenue") or 0)
        row.online_bookings = int(v.get("online_bookings") or 0)
        row.online_payments = int(p.get("online_payments") or 0)
        row.report_pickups = pickups.get(k, 0) if group_by is GroupBy.DAY else 0
        row.queues_avoided = row.online_bookings + row.online_payments + row.report_pickups
        row.visits, row.stops_avoided = by_key.get(k, (0, 0))
        row.stops_per_visit = round(row.stops_avoided / row.visits, 2) if row.visits else None
        table.rows.append(row)
        for name in (
            "booked",
            "checked_in",
            "no_shows",
            "cancellations",
            "completed",
            "revenue_fen",
            "online_bookings",
            "online_payments",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        service_sum += s_sum
        service_n += s_n
        booked_live += live
    total.report_pickups = sum(pickups.values())
    total.visits = sum(s.visits for s in per_visit)
    total.stops_avoided = sum(s.total for s in per_visit)
    total.stops_per_visit = round(total.stops_avoided / total.visits, 2) if total.visits else None
    names = _labels(hospital, GroupBy.DEPARTMENT, {s.department_id for s in per_visit}, language)
    table.visit_stops = [
        VisitStopsRow(
            day=s.service_date,
            department=names[s.department_id],
            visits=s.visits,
            registration=s.registration,
            cashier=s.cashier,
            waiting_hall=s.waiting_hall,
            report_window=s.report_window,
            station_numbers=s.station_numbers,
            total=s.total,
        )
        for s in per_visit
    ]
    total.queues_avoided = total.online_bookings + total.online_payments + total.report_pickups
    total.no_show_rate = round(total.no_shows / booked_live, 4) if booked_live else None
    total.service_avg_min = _minutes(service_sum / service_n) if service_n else None
    total.patients_per_hour = round(service_n * 3600 / service_sum, 1) if service_sum else None
    total.wait_p50_min, total.wait_p90_min = _minutes(p50), _minutes(p90)
    return table


def as_json(table: StatsTable) -> dict[str, Any]:
    def row(r: StatsRow) -> dict[str, Any]:
        return {f.name: getattr(r, f.name) for f in dc_fields(r)}

    return {
        "start": table.start.isoformat(),
        "end": table.end.isoformat(),
        "group_by": table.group_by.value,
        "rows": [row(r) for r in table.rows],
        "total": row(table.total),
        "visit_stops": [
            {**{f.name: getattr(s, f.name) for f in dc_fields(s)}, "day": s.day.isoformat()}
            for s in table.visit_stops
        ],
    }


def default_range(*, now: datetime | None = None, days: int = 30) -> tuple[date, date]:
    end = (now or utcnow()).date()
    return end - timedelta(days=days - 1), end
