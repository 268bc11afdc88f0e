"""Statistics count, per visit, the physical stops its own events replaced."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.db import db
from hospital.organisation.models import ServicePointKind
from hospital.visits.models import Visit
from hospital.visits.services import hospital_day
from queueing.services import issuing
from reports import stats
from scheduling.services import booking
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in


def test_stops_replaced_are_counted_per_visit_per_day_and_department(client: Any, day: Any):
    held = booking.hold(
        actor=day.account, patient_id=day.patient.id, slot_id=day.bookable_slot().id, now=day.now
    )
    booking.confirm(held.id, actor=day.account, now=day.now)  # registration window
    issuing.check_in(  # waiting hall
        actor=None, hospital_id=day.hospital.id, appointment_id=held.id, now=day.now
    )
    lab = factories.create_service_point(day.hospital, kind=ServicePointKind.LAB_DRAW)
    qf.open_queue(lab, now=day.now)
    qf.walk_in(day.hospital, lab, now=day.now, patient_id=day.patient.id)  # lab number
    # A walk-in at the desk for someone else: the waiting hall only.
    other = factories.create_patient(day.hospital)
    qf.walk_in(day.hospital, day.clinic.point, now=day.now, patient_id=other.id)

    visit = db.session.scalar(sa.select(Visit).where(Visit.patient_id == day.patient.id))
    assert visit is not None
    assert (visit.registration_online, visit.virtual_queue, visit.station_numbers) == (
        True,
        True,
        1,
    )
    assert visit.department_id == day.clinic.department.id  # the lab number did not move it
    today = hospital_day(day.hospital.id, day.now)

    by_day = stats.operations(day.hospital, start=today, end=today)
    assert (by_day.total.visits, by_day.total.stops_avoided) == (2, 4)
    assert by_day.total.stops_per_visit == 2.0
    by_department = stats.operations(
        day.hospital, start=today, end=today, group_by=stats.GroupBy.DEPARTMENT, language="en"
    )
    row = next(r for r in by_department.rows if r.key == str(day.clinic.department.id))
    assert (row.visits, row.stops_avoided) == (2, 4)
    (daily,) = by_department.visit_stops
    assert (daily.visits, daily.registration, daily.waiting_hall, daily.station_numbers) == (
        2,
        1,
        2,
        1,
    )

    admin = factories.create_account(day.hospital, roles=(Role.ADMIN,))
    sign_in(client, admin)
    page = client.get(f"/reports/statistics?start={today}&end={today}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-stops-avoided="4"' in html and "data-visit-stops" in html
