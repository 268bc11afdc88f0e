"""The admin's schedule is a week grid per clinician: sessions, planned weekly sessions and
closures by day, and an add form whose extra session must name a room."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from scheduling import week_grid
from scheduling.models import ClinicSession, ExceptionKind, ScheduleException, SessionTemplate
from tests.integration.scheduling.conftest import World
from tests.integration.scheduling.test_staff_pages_extra import extra_form, local_today, room_of
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session


def _cell(page: str, clinician_id: int, day: date) -> str:
    row = page.split(f'data-clinician="{clinician_id}"', 1)[1].split("</tr>", 1)[0]
    return row.split(f'data-day="{day.isoformat()}"', 1)[1].split("</td>", 1)[0]


def test_week_grid_shows_sessions_planned_sessions_and_leave_by_day(
    client: Any, world: World
) -> None:
    monday = week_grid.week_start(local_today(world)) + timedelta(days=7)
    room = room_of(world)
    create_clinic_session(
        world.clinician,
        local_date=monday,
        start=time(8),
        end=time(11, 30),
        service_point_id=room.id,
    )
    db.session.add(
        SessionTemplate(
            hospital_id=world.hospital.id,
            department_id=world.department.id,
            clinician_id=world.clinician.id,
            weekday=2,
            start_time=time(14),
            end_time=time(17),
            valid_from=monday - timedelta(days=30),
        )
    )
    db.session.add(
        ScheduleException(
            hospital_id=world.hospital.id,
            kind=ExceptionKind.LEAVE,
            clinician_id=world.clinician.id,
            first_date=monday + timedelta(days=4),
            last_date=monday + timedelta(days=4),
            reason="学术会议",
        )
    )
    db.session.commit()
    sign_in(client, world.admin)
    page = client.get(f"/admin/schedule?week={(monday + timedelta(days=3)).isoformat()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-week-grid" in html and monday.isoformat() in html
    monday_cell = _cell(html, world.clinician.id, monday)
    # A session made outside a weekly template is an extra one.
    assert 'data-entry="extra"' in monday_cell and "08:00–11:30" in monday_cell
    assert 'data-entry="planned"' in _cell(html, world.clinician.id, monday + timedelta(days=2))
    friday = _cell(html, world.clinician.id, monday + timedelta(days=4))
    assert 'data-entry="closed"' in friday and "学术会议" in friday
    assert _cell(html, world.clinician.id, monday + timedelta(days=1)).count("data-entry") == 0
    # Weeks page back and forth.
    assert f"week={(monday - timedelta(days=7)).isoformat()}" in html
    # The add link of a day prefills the add form with the doctor and the date.
    link = re.search(
        rf'href="([^"]*local_date={(monday + timedelta(days=1)).isoformat()}[^"]*)"', html
    )
    assert link is not None
    prefilled = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    form = prefilled.split("data-grid-add-extra", 1)[1].split("</form>", 1)[0]
    assert f'value="{(monday + timedelta(days=1)).isoformat()}"' in form
    assert f'<option value="{world.clinician.id}" selected>' in form
    assert 'name="service_point_id" required' in form


def test_an_extra_session_from_the_grid_needs_a_room_and_then_shows_in_the_grid(
    client: Any, world: World
) -> None:
    sign_in(client, world.admin)
    day = local_today(world) + timedelta(days=3)
    refused = client.post(
        "/admin/schedule/extra-sessions?lang=en",
        data=extra_form(world, service_point_id="", local_date=day.isoformat()),
    )
    assert refused.status_code == 422
    assert "Choose the room for the session." in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClinicSession)) == 0

    added = client.post(
        "/admin/schedule/extra-sessions", data=extra_form(world, local_date=day.isoformat())
    )
    assert added.status_code == 302
    (session,) = db.session.scalars(sa.select(ClinicSession)).all()
    assert session.service_point_id == room_of(world).id
    html = client.get(f"/admin/schedule?week={day.isoformat()}").get_data(as_text=True)
    assert 'data-entry="extra"' in _cell(html, world.clinician.id, day)
