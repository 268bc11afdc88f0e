"""Consultation figures: questions per department and week, median answer time, the share
answered in the promised time, and refunds (shown on the reports statistics page)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import render_template
from markupsafe import Markup

from consult.models import Consultation, ConsultStatus
from hospital.db import db
from hospital.organisation.models import Department, Hospital
from hospital.zones import day_bounds, zone_for

ASKED = (
    ConsultStatus.OPEN,
    ConsultStatus.ANSWERED,
    ConsultStatus.CLOSED,
    ConsultStatus.REFUNDED,
    ConsultStatus.DECLINED,
)
REFUNDED = (ConsultStatus.REFUNDED, ConsultStatus.DECLINED)


@dataclass
class WeekRow:
    department: Department | None  # None: the total
    week: str  # ISO week, e.g. 2026-W49
    asked: int = 0
    answered: int = 0
    in_time: int = 0
    refunded: int = 0
    refunded_fen: int = 0
    answer_minutes: list[float] = field(default_factory=list)

    @property
    def median_answer_minutes(self) -> float | None:
        return round(statistics.median(self.answer_minutes), 1) if self.answer_minutes else None

    @property
    def in_time_share(self) -> float | None:
        judged = self.answered + self.refunded
        return self.in_time / judged if judged else None


@dataclass
class ConsultFigures:
    rows: list[WeekRow]
    total: WeekRow


def _week(moment: datetime, hospital: Hospital) -> str:
    year, week, _day = moment.astimezone(zone_for(hospital)).isocalendar()
    return f"{year}-W{week:02d}"


def _add(row: WeekRow, c: Consultation) -> None:
    row.asked += 1
    if c.answered_at is not None and c.paid_at is not None:
        row.answered += 1
        row.answer_minutes.append((c.answered_at - c.paid_at).total_seconds() / 60)
        if c.answer_due_at is None or c.answered_at <= c.answer_due_at:
            row.in_time += 1
    if c.status in REFUNDED:
        row.refunded += 1
        row.refunded_fen += c.fee_fen


def figures(hospital: Hospital, start: date, end: date) -> ConsultFigures:
    """Questions sent (paid or free) from the first to the last local day, inclusive."""
    zone = zone_for(hospital)
    first, _ = day_bounds(start, zone)
    last, _ = day_bounds(end + timedelta(days=1), zone)
    rows = db.session.execute(
        sa.select(Consultation, Department)
        .join(Department, Department.id == Consultation.department_id)
        .where(
            Consultation.hospital_id == hospital.id,
            Consultation.status.in_(ASKED),
            Consultation.created_at >= first,
            Consultation.created_at < last,
        )
        .order_by(Consultation.created_at)
    ).all()
    by_key: dict[tuple[int, str], WeekRow] = {}
    total = WeekRow(None, "")
    for consultation, department in rows:
        key = (department.id, _week(consultation.created_at, hospital))
        row = by_key.setdefault(key, WeekRow(department, key[1]))
        _add(row, consultation)
        _add(total, consultation)
    ordered = sorted(
        by_key.values(),
        key=lambda r: (
            r.week,
            r.department.sort_order if r.department else 0,
            r.department.id if r.department else 0,
        ),
    )
    return ConsultFigures(rows=ordered, total=total)


def statistics_panel(hospital_id: int, start: date, end: date) -> Markup:
    """The consultation section of the statistics page (hospital.web.page_slots)."""
    hospital = db.session.get(Hospital, hospital_id)
    if hospital is None:
        return Markup("")
    found = figures(hospital, start, end)
    return Markup(render_template("consult/statistics_section.html", figures=found))  # noqa: S704
