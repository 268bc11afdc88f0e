"""Phone pages: wait for a clinician or a department over a range of dates, with band and fee class."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hospital.db import db, utcnow
from scheduling.models import FeeClass, TimeBand, WaitlistEntry, WaitlistKind
from tests.integration.scheduling.conftest import World
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session


def _entries() -> list[WaitlistEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WaitlistEntry).order_by(WaitlistEntry.id)))


def _days() -> tuple[str, str]:
    first = (utcnow() + timedelta(hours=8)).date() + timedelta(days=1)
    return first.isoformat(), (first + timedelta(days=6)).isoformat()


def test_a_patient_waits_for_a_clinician_over_dates_in_a_band_and_fee_class(
    client: Any, world: World
) -> None:
    sign_in(client, world.accounts[0])
    url = f"/waitlist/join?department_id={world.department.id}&clinician_id={world.clinician.id}"
    form = client.get(url + "&lang=en").get_data(as_text=True)
    assert "data-waitlist-range" in form and 'value="clinician"' in form
    first, last = _days()
    answer = client.post(
        url,
        data={
            "patient_id": world.patients[0].id,
            "whom": "clinician",
            "first_date": first,
            "last_date": last,
            "band": "morning",
            "fee_class": "expert",
        },
    )
    assert answer.status_code == 303 and answer.location.endswith("/waitlist")
    [entry] = _entries()
    assert (entry.kind, entry.clinician_id, entry.department_id) == (
        WaitlistKind.CLINICIAN,
        world.clinician.id,
        world.department.id,
    )
    assert (entry.first_date.isoformat(), entry.last_date.isoformat()) == (first, last)
    assert (entry.band, entry.fee_class) == (TimeBand.MORNING, FeeClass.EXPERT)
    mine = client.get("/waitlist?lang=en").get_data(as_text=True)
    assert f"{first} – {last}" in mine and "data-fee-class" in mine
    assert 'data-position="1"' in mine  # first in line


def test_a_patient_waits_for_any_doctor_of_a_department(client: Any, world: World) -> None:
    sign_in(client, world.accounts[1])
    first, last = _days()
    answer = client.post(
        f"/waitlist/join?department_id={world.department.id}&clinician_id={world.clinician.id}",
        data={
            "patient_id": world.patients[1].id,
            "whom": "department",
            "first_date": first,
            "last_date": last,
            "band": "any",
            "fee_class": "",
        },
    )
    assert answer.status_code == 303
    [entry] = _entries()
    assert (entry.kind, entry.clinician_id, entry.fee_class) == (
        WaitlistKind.DEPARTMENT,
        None,
        None,
    )


def test_bad_dates_are_explained_on_the_form_and_nothing_is_written(
    client: Any, world: World
) -> None:
    sign_in(client, world.accounts[0])
    first, last = _days()
    answer = client.post(
        f"/waitlist/join?department_id={world.department.id}&lang=en",
        data={"patient_id": world.patients[0].id, "first_date": last, "last_date": first},
    )
    assert answer.status_code == 409
    assert "the first no later than the last" in answer.get_data(as_text=True)
    assert _entries() == []


def test_a_stranger_cannot_wait_for_someone_elses_patient_and_the_refusal_is_no_redirect(
    client: Any, world: World
) -> None:
    sign_in(client, world.accounts[0])
    first, last = _days()
    answer = client.post(
        f"/waitlist/join?department_id={world.department.id}",
        data={"patient_id": world.patients[1].id, "first_date": first, "last_date": last},
    )
    assert answer.status_code in (403, 404)
    assert _entries() == []


def test_another_hospitals_department_is_not_found(client: Any, world: World) -> None:
    other = factories.create_department(factories.create_hospital())
    sign_in(client, world.accounts[0])
    assert client.get(f"/waitlist/join?department_id={other.id}").status_code == 404


def test_the_department_page_leads_to_the_range_form(client: Any, world: World) -> None:
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    create_clinic_session(
        world.clinician, local_date=day, capacity=1, release_at=utcnow() - timedelta(hours=1)
    )
    sign_in(client, world.accounts[0])
    page = client.get(f"/book/departments/{world.department.id}").get_data(as_text=True)
    assert f"/waitlist/join?department_id={world.department.id}" in page
