"""Keep or release: the patient's explicit "keep" (issue 15 item 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hospital.db import db, utcnow
from hospital.errors import Conflict, DomainError
from scheduling.models import Appointment
from scheduling.services import booking, changes, keep_or_release
from tests.integration.scheduling.conftest import World
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session, slots_of


def _booked(world: World, i: int = 0, days: int = 2) -> Appointment:
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=days)
    session = create_clinic_session(
        world.clinician, local_date=day, capacity=3, release_at=utcnow() - timedelta(hours=1)
    )
    account, patient = world.accounts[i], world.patients[i]
    held = booking.hold(
        actor=account, patient_id=patient.id, slot_id=slots_of(session)[i].id, now=utcnow()
    )
    appointment = booking.confirm(held.id, actor=account, now=utcnow())
    db.session.commit()
    return appointment


@pytest.fixture
def long_window(app: Any) -> Any:
    """Ask four days ahead, so bookings two days out are asked whatever the hour."""
    saved = app.config.get("WAITLIST_KEEP_OR_RELEASE_HOURS")
    app.config["WAITLIST_KEEP_OR_RELEASE_HOURS"] = 96
    yield
    app.config["WAITLIST_KEEP_OR_RELEASE_HOURS"] = saved


def test_a_kept_booking_is_not_asked_again_and_keeping_twice_is_the_same(
    world: World, long_window: Any
) -> None:
    appointment = _booked(world)
    now = utcnow()
    assert keep_or_release.asking(appointment, now=now)
    kept = keep_or_release.keep(appointment.id, actor=world.accounts[0], now=now)
    assert kept.kept_at == now
    later = now + timedelta(minutes=5)
    assert keep_or_release.keep(appointment.id, actor=world.accounts[0], now=later).kept_at == now
    assert not keep_or_release.asking(appointment, now=later)
    assert keep_or_release.ask_keep_or_release(now=later) == 0  # kept: nothing to ask


def test_only_the_patients_own_accounts_keep_and_only_a_live_booking(
    world: World, long_window: Any
) -> None:
    appointment = _booked(world)
    with pytest.raises(DomainError) as refused:
        keep_or_release.keep(appointment.id, actor=world.accounts[1], now=utcnow())
    assert refused.value.status in (403, 404)
    db.session.rollback()
    changes.cancel(appointment.id, actor=world.accounts[0], now=utcnow())
    with pytest.raises(Conflict):
        keep_or_release.keep(appointment.id, actor=world.accounts[0], now=utcnow())
    db.session.rollback()
    assert db.session.get(Appointment, appointment.id).kept_at is None


def test_the_appointments_page_asks_and_the_keep_button_keeps(
    client: Any, world: World, long_window: Any
) -> None:
    appointment = _booked(world)
    sign_in(client, world.accounts[0])
    page = client.get("/appointments?lang=en").get_data(as_text=True)
    assert 'data-action="keep"' in page and 'data-action="release"' in page
    answer = client.post(f"/appointments/{appointment.id}/keep")
    assert answer.status_code == 303 and answer.location.endswith("/appointments")
    page = client.get("/appointments?lang=en").get_data(as_text=True)
    assert "You keep your appointment" in page or "you keep your appointment" in page
    assert "data-kept" in page and 'data-action="keep"' not in page
    db.session.refresh(appointment)
    assert appointment.kept_at is not None


def test_a_booking_outside_the_window_is_not_asked(client: Any, world: World) -> None:
    _booked(world, days=6)
    sign_in(client, world.accounts[0])
    page = client.get("/appointments").get_data(as_text=True)
    assert 'data-action="keep"' not in page
