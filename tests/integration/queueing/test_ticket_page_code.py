"""A ticket page never offers the patient a second code: a visit's ticket points to its visit code."""

from __future__ import annotations

from typing import Any

from hospital.db import db, utcnow
from hospital.visits.services import hospital_day, visit_of
from tests.support import factories
from tests.support.queueing_factories import open_queue, walk_in


def test_a_visits_ticket_page_shows_no_ticket_qr_but_the_way_to_the_visit_code(
    client: Any, hospital: Any
) -> None:
    now = utcnow()
    point = factories.create_service_point(hospital)
    open_queue(point, now=now)
    patient = factories.create_patient(hospital)
    ticket = walk_in(hospital, point, now=now, patient_id=patient.id)
    visit = visit_of(hospital.id, patient.id, hospital_day(hospital.id, now))
    assert visit is not None  # a walk-in starts the patient's visit
    db.session.commit()

    page = client.get(f"/q/{ticket.token}").get_data(as_text=True)

    assert 'class="q-qr"' not in page
    assert f'href="/visits/{visit.code}" data-action="visit-code"' in page
    assert visit.code not in page.replace(f"/visits/{visit.code}", "")  # only as the link


def test_a_ticket_without_a_patient_keeps_its_own_qr(client: Any, hospital: Any) -> None:
    now = utcnow()
    point = factories.create_service_point(hospital)
    open_queue(point, now=now)
    ticket = walk_in(hospital, point, now=now)
    db.session.commit()

    page = client.get(f"/q/{ticket.token}").get_data(as_text=True)

    assert 'class="q-qr"' in page and "<svg" in page
