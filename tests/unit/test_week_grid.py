"""The week grid's layout: sessions, planned template sessions and closures per clinician and day."""

from __future__ import annotations

from datetime import date, time
from types import SimpleNamespace as NS

from scheduling import week_grid

MONDAY = date(2026, 3, 2)


def _template(**kw):
    values = dict(
        id=1,
        clinician_id=7,
        service_point_id=3,
        weekday=0,
        start_time=time(8),
        end_time=time(12),
        valid_from=date(2026, 1, 1),
        valid_until=None,
        is_active=True,
    )
    return NS(**(values | kw))


def test_a_made_session_replaces_its_template_and_closures_cover_their_days():
    doctor = NS(id=7, department_id=2)
    other = NS(id=8, department_id=5)
    made = NS(
        id=10,
        template_id=1,
        clinician_id=7,
        department_id=2,
        service_point_id=3,
        local_date=MONDAY,
        start_time=time(8),
        end_time=time(12),
    )
    extra = NS(
        id=11,
        template_id=None,
        clinician_id=7,
        department_id=2,
        service_point_id=4,
        local_date=MONDAY,
        start_time=time(14),
        end_time=time(16),
    )
    holiday = NS(
        clinician_id=None,
        department_id=None,
        first_date=date(2026, 3, 4),
        last_date=date(2026, 3, 4),
    )
    closure = NS(clinician_id=None, department_id=5, first_date=MONDAY, last_date=MONDAY)
    rows = week_grid.build(
        MONDAY,
        [doctor, other],
        [made, extra],
        [_template(), _template(id=2, weekday=2), _template(id=3, weekday=1, is_active=False)],
        [holiday, closure],
    )
    mine = rows[0].days
    assert [e.kind for e in mine[0]] == ["session", "extra"]  # by start time, template not repeated
    assert [e.kind for e in mine[1]] == []  # a stopped template plans nothing
    assert [e.kind for e in mine[2]] == ["closed", "planned"]  # the whole hospital's holiday
    assert [e.kind for e in rows[1].days[0]] == ["closed"]  # only the other's department closed
    assert week_grid.week_start(date(2026, 3, 8)) == MONDAY


def test_no_planned_session_on_a_past_day():
    doctor = NS(id=7, department_id=2)
    rows = week_grid.build(MONDAY, [doctor], [], [_template()], [], today=date(2026, 3, 3))
    assert rows[0].days[0] == []  # Monday has passed: nothing was made, nothing is planned
    rows = week_grid.build(MONDAY, [doctor], [], [_template(weekday=2)], [], today=date(2026, 3, 3))
    assert [e.kind for e in rows[0].days[2]] == ["planned"]
