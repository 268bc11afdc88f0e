"""The admin's week grid: one row per clinician, one column per day, with what happens there.

Pure: it takes the rows already read and lays them out. A day shows the clinician's sessions
(an extra one marked, a cancelled one marked), a weekly template's planned session where no
session has been made from it yet (sessions appear when released), and the closures (a whole
hospital's holiday, a department's closure, the clinician's leave) that cover the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One block in a day: a session, a planned template session, or a closure."""

    kind: str  # "session", "extra", "cancelled", "planned", "closed"
    start: time | None
    end: time | None
    room_id: int | None = None
    source: Any = None


@dataclass
class Row:
    clinician: Any
    days: list[list[Entry]] = field(default_factory=list)


def week_start(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def _covers(exc: Any, clinician: Any, day: date) -> bool:
    if not exc.first_date <= day <= exc.last_date:
        return False
    if exc.clinician_id is not None:
        return bool(exc.clinician_id == clinician.id)
    if exc.department_id is not None:
        return bool(exc.department_id == clinician.department_id)
    return True


def build(
    monday: date,
    clinicians: Sequence[Any],
    sessions: Sequence[Any],
    templates: Sequence[Any],
    exceptions: Sequence[Any],
    *,
    cancelled: frozenset[int] | set[int] = frozenset(),
    today: date | None = None,
) -> list[Row]:
    """Lay out the week starting on monday, a row per clinician in the order given.

    clinicians have id and department_id; sessions, templates and exceptions are scheduling's
    ClinicSession, SessionTemplate and ScheduleException rows (or anything with their fields).
    """
    days = [monday + timedelta(days=i) for i in range(7)]
    rows = []
    for clinician in clinicians:
        row = Row(clinician)
        for day in days:
            entries: list[Entry] = [
                Entry("closed", None, None, source=e)
                for e in exceptions
                if _covers(e, clinician, day)
            ]
            made = [s for s in sessions if s.clinician_id == clinician.id and s.local_date == day]
            made_from = {s.template_id for s in made}
            for s in made:
                kind = (
                    "cancelled"
                    if s.id in cancelled
                    else ("extra" if s.template_id is None else "session")
                )
                entries.append(Entry(kind, s.start_time, s.end_time, s.service_point_id, s))
            for t in templates:
                if (
                    t.clinician_id == clinician.id
                    and t.is_active
                    and t.weekday == day.weekday()
                    and t.valid_from <= day
                    and (t.valid_until is None or day <= t.valid_until)
                    and t.id not in made_from
                    and (today is None or day >= today)  # a past day shows what happened
                ):
                    entries.append(
                        Entry("planned", t.start_time, t.end_time, t.service_point_id, t)
                    )
            entries.sort(key=lambda e: (e.start is not None, e.start or time(0)))
            row.days.append(entries)
        rows.append(row)
    return rows
