"""Online bookings in the statistics, end to end: a patient books from the phone."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from hospital.db import db, utcnow
from hospital.zones import local_date, zone_for
from reports import stats
from reports.stats import GroupBy
from scheduling.services import booking
from tests.support.scheduling_factories import create_clinic_session, slots_of


def test_a_patients_own_booking_counts_as_an_online_booking_on_its_visit_day(
    ward: Any, create_department: Any, create_clinician: Any
) -> None:
    now = utcnow()
    today = local_date(now, zone_for(ward.hospital))
    clinician = create_clinician(create_department(ward.hospital))
    session = create_clinic_session(
        clinician,
        local_date=today + timedelta(days=2),
        start=time(8),
        end=time(9),
        zone=ward.hospital.timezone,
        release_at=now - timedelta(days=1),
    )
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=ward.patient_account, patient_id=ward.patient.id, slot_id=slot.id, now=now
    )
    booking.confirm(held.id, actor=ward.patient_account, now=now)
    db.session.commit()
    table = stats.operations(
        ward.hospital, start=today, end=today + timedelta(days=2), group_by=GroupBy.DAY
    )
    by_day = {row.label: row for row in table.rows}
    visit_day = by_day[(today + timedelta(days=2)).isoformat()]
    assert (visit_day.booked, visit_day.online_bookings) == (1, 1)
    # Seen in use: "online bookings 0 on a day with a booking" was the day it was made; the
    # figures are by visit day, and the page now says so beside the table.
    booking_day = by_day.get(today.isoformat())
    assert booking_day is None or booking_day.online_bookings == 0


def test_the_statistics_page_says_figures_count_on_the_visit_day(client: Any, ward: Any) -> None:
    from tests.integration.reports.conftest import sign_in_as

    sign_in_as(client, ward.admin)
    html = client.get("/reports/statistics?lang=en").get_data(as_text=True)
    assert "data-counted-on" in html and "count on the day of the visit" in html
