"""Pages answer a fixable error by undoing the request's work; refusals are not hidden."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import get_flashed_messages

from hospital.db import db, utcnow
from hospital.errors import Conflict, NotFound
from hospital.web.fixable_errors import flash_fixable_errors, undo_on_error
from scheduling.models import Appointment, AppointmentState
from scheduling.services import booking
from tests.integration.scheduling.conftest import World
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session, slots_of


def _rename_department(world: World) -> None:
    """Half-done work: a change flushed but not committed."""
    world.department.name_en = "Half-done"
    db.session.flush()


@pytest.fixture
def saved(world: World) -> World:
    """The world committed, so a rollback undoes only what the test does after."""
    db.session.commit()
    return world


def _department_name(world: World) -> str:
    db.session.refresh(world.department)
    return world.department.name_en


def test_a_fixable_error_is_kept_and_its_work_undone(app: Any, saved: World) -> None:
    world = saved
    before = _department_name(world)
    with app.test_request_context(), undo_on_error() as outcome:
        _rename_department(world)
        raise Conflict("Taken. Pick another time.", code="slot_full")
    assert outcome.error is not None and outcome.status == 409
    assert outcome.message == "Taken. Pick another time."
    assert _department_name(world) == before


def test_a_block_without_error_keeps_its_work(app: Any, saved: World) -> None:
    world = saved
    with app.test_request_context(), undo_on_error() as outcome:
        _rename_department(world)
    assert outcome.error is None and outcome.status == 200
    assert _department_name(world) == "Half-done"


def test_refusals_pass_through_when_asked(app: Any, world: World) -> None:
    with app.test_request_context():
        with pytest.raises(NotFound), undo_on_error(let_refusals_through=True):
            raise NotFound("No such appointment.", code="appointment_not_found")
        with undo_on_error() as outcome:
            raise NotFound("No such slot.", code="slot_not_found")
    assert outcome.status == 404  # a page rendered again still answers as the refusal


def test_other_exceptions_are_not_swallowed(app: Any, world: World) -> None:
    with app.test_request_context(), pytest.raises(ValueError), undo_on_error():
        raise ValueError("a bug, not a fixable error")


def test_a_flashed_error_undoes_the_work_and_redirects_back(app: Any, saved: World) -> None:
    world = saved
    before = _department_name(world)

    @flash_fixable_errors(back=lambda: "/back")
    def view() -> str:
        _rename_department(world)
        raise Conflict("Cannot be cancelled any more.", code="not_cancellable")

    with app.test_request_context(method="POST"):
        response = view()
        assert response.status_code == 303 and response.location == "/back"
        assert get_flashed_messages(with_categories=True) == [
            ("error", "Cannot be cancelled any more.")
        ]
    assert _department_name(world) == before


def test_a_flashed_view_lets_refusals_through(app: Any, world: World) -> None:
    @flash_fixable_errors(back=lambda: "/back")
    def view() -> str:
        raise NotFound("No such appointment.", code="appointment_not_found")

    with app.test_request_context(method="POST"), pytest.raises(NotFound):
        view()


def _booked(world: World) -> Appointment:
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    session = create_clinic_session(
        world.clinician, local_date=day, capacity=3, release_at=utcnow() - timedelta(hours=1)
    )
    account, patient = world.accounts[0], world.patients[0]
    appointment = booking.hold(
        actor=account, patient_id=patient.id, slot_id=slots_of(session)[0].id, now=utcnow()
    )
    booking.confirm(appointment.id, actor=account, now=utcnow())
    db.session.commit()
    return appointment


def test_cancelling_twice_flashes_why_and_redirects(client: Any, world: World) -> None:
    appointment = _booked(world)
    sign_in(client, world.accounts[0])
    first = client.post(f"/appointments/{appointment.id}/cancel", data={"reason": ""})
    assert first.status_code == 302
    again = client.post(f"/appointments/{appointment.id}/cancel?lang=en", data={"reason": ""})
    assert again.status_code == 303 and again.location.endswith("/appointments")
    page = client.get("/appointments?lang=en").get_data(as_text=True)
    assert "cannot be cancelled any more" in page
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.CANCELLED


def test_an_unknown_record_number_is_explained_on_the_day_list(client: Any, world: World) -> None:
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    session = create_clinic_session(
        world.clinician, local_date=day, capacity=1, release_at=utcnow() - timedelta(hours=1)
    )
    sign_in(client, world.registrar)
    response = client.post(
        "/staff/add-on?lang=en",
        data={
            "slot_id": slots_of(session)[0].id,
            "medical_record_number": "NO-SUCH-NUMBER",
            "reason": "urgent",
            "clinician_id": world.clinician.id,
            "date": day.isoformat(),
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "data-day-list" in page or "data-no-appointments" in page
    assert "medical record number" in page
