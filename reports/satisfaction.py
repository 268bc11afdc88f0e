"""Satisfaction survey results by department and week, and the comments (admins read them)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Department, Hospital
from reports.models import SatisfactionSummary


@dataclass(frozen=True)
class WeekRow:
    week: date  # the Monday
    department: str
    answers: int
    wait: float  # mean score, 1-5
    staff: float
    overall: float


@dataclass(frozen=True)
class Comment:
    day: date
    department: str
    overall: int
    text: str


@dataclass(frozen=True)
class Satisfaction:
    rows: list[WeekRow]
    comments: list[Comment]
    answers: int
    overall: float | None


def _departments(hospital: Hospital, ids: set[int], language: str) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Department.id, Department.name_zh, Department.name_en).where(
            Department.hospital_id == hospital.id, Department.id.in_(ids)
        )
    ).all()
    return {i: (zh if language == "zh" else en) or en or zh for i, zh, en in rows}


def satisfaction(
    hospital: Hospital, *, start: date, end: date, language: str, comments_limit: int = 200
) -> Satisfaction:
    s = SatisfactionSummary
    found = db.session.execute(
        sa.select(
            s.service_date, s.department_id, s.wait_score, s.staff_score, s.overall_score, s.comment
        )
        .where(s.hospital_id == hospital.id, s.service_date >= start, s.service_date <= end)
        .order_by(s.service_date.desc(), s.id.desc())
    ).all()
    names = _departments(hospital, {d for _day, d, *_rest in found if d is not None}, language)
    groups: dict[tuple[date, int | None], list[tuple[int, int, int]]] = defaultdict(list)
    comments: list[Comment] = []
    for day, department_id, wait, staff, overall, text in found:
        week = day - timedelta(days=day.weekday())
        groups[(week, department_id)].append((wait, staff, overall))
        if text and len(comments) < comments_limit:
            comments.append(Comment(day, names.get(department_id or 0, "-"), overall, text))

    def mean(values: list[int]) -> float:
        return round(sum(values) / len(values), 2)

    rows = [
        WeekRow(
            week=week,
            department=names.get(department_id or 0, "-"),
            answers=len(scores),
            wait=mean([w for w, _s, _o in scores]),
            staff=mean([st for _w, st, _o in scores]),
            overall=mean([o for _w, _s, o in scores]),
        )
        for (week, department_id), scores in groups.items()
    ]
    rows.sort(key=lambda r: (r.week, r.department), reverse=True)
    return Satisfaction(
        rows=rows,
        comments=comments,
        answers=len(found),
        overall=mean([o for *_x, o, _t in found]) if found else None,
    )
