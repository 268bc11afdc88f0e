"""The waitlist on the phone pages: join a sold-out session, see the place in line, take the offer."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.db import db, utcnow
from scheduling.models import Appointment, AppointmentState, WaitlistOffer
from scheduling.services import booking, changes
from tests.integration.scheduling.conftest import World
from tests.integration.scheduling.test_scheduling_pages import switch_to, upcoming
from tests.support.auth import sign_in
from tests.support.scheduling_factories import slots_of


@pytest.fixture(autouse=True)
def _no_quiet_hours(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "WAITLIST_QUIET_HOURS", "00:00-00:00")


@pytest.fixture
def sold_out(world: World) -> tuple[Any, Any]:
    session = upcoming(world, start=time(9), end=time(9, 15), capacity=1)
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=utcnow()
    )
    return session, booking.confirm(held.id, actor=world.accounts[0], now=utcnow())


@pytest.mark.parametrize(("language", "elder"), [("zh", False), ("en", False), ("zh", True)])
def test_a_patient_joins_from_the_sold_out_page_and_accepts_the_offer(
    client: Any, world: World, sold_out: Any, language: str, elder: bool
) -> None:
    session, booked = sold_out
    client.set_cookie("lang", language)
    if elder:
        client.set_cookie("elder", "1")
    sign_in(client, world.accounts[1])
    page = client.get(f"/book/sessions/{session.id}").get_data(as_text=True)
    assert "data-waitlist-join" in page
    assert ("候补" if language == "zh" else "waitlist") in page
    joined = client.post(
        f"/book/sessions/{session.id}/waitlist", data={"patient_id": world.patients[1].id}
    )
    assert joined.status_code == 303 and joined.location.endswith("/waitlist")
    mine = client.get("/waitlist").get_data(as_text=True)
    assert 'data-position="1"' in mine
    changes.cancel(booked.id, actor=world.accounts[0], now=utcnow())
    offer = db.session.scalar(sa.select(WaitlistOffer))
    assert offer is not None
    mine = client.get("/waitlist").get_data(as_text=True)
    assert f'data-offer="{offer.id}"' in mine
    offer_page = client.get(f"/waitlist/offers/{offer.id}").get_data(as_text=True)
    assert 'data-action="accept-offer"' in offer_page and "data-held-until" in offer_page
    accepted = client.post(f"/waitlist/offers/{offer.id}/accept")
    assert accepted.status_code == 303 and accepted.location.endswith("/appointments")
    appointment = db.session.get_one(Appointment, offer.appointment_id)
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.BOOKED
    closed = client.get(f"/waitlist/offers/{offer.id}").get_data(as_text=True)
    assert "data-offer-closed" in closed


def test_declining_and_leaving_from_the_pages(client: Any, world: World, sold_out: Any) -> None:
    session, booked = sold_out
    sign_in(client, world.accounts[1])
    client.post(f"/book/sessions/{session.id}/waitlist", data={"patient_id": world.patients[1].id})
    changes.cancel(booked.id, actor=world.accounts[0], now=utcnow())
    offer = db.session.scalar(sa.select(WaitlistOffer))
    assert offer is not None
    declined = client.post(f"/waitlist/offers/{offer.id}/decline")
    assert declined.status_code == 303
    again = client.post(f"/waitlist/offers/{offer.id}/accept")
    assert again.status_code == 303  # flashed "answered or lapsed", back to the list
    entry_id = offer.entry_id
    left = client.post(f"/waitlist/{entry_id}/leave")
    assert left.status_code == 303
    assert 'data-state="left"' in client.get("/waitlist").get_data(as_text=True)


def test_a_stranger_cannot_see_or_answer_an_offer(client: Any, world: World, sold_out: Any) -> None:
    session, booked = sold_out
    sign_in(client, world.accounts[1])
    client.post(f"/book/sessions/{session.id}/waitlist", data={"patient_id": world.patients[1].id})
    changes.cancel(booked.id, actor=world.accounts[0], now=utcnow())
    offer = db.session.scalar(sa.select(WaitlistOffer))
    assert offer is not None
    switch_to(client, world.accounts[2])
    assert client.get(f"/waitlist/offers/{offer.id}").status_code == 404
    assert client.post(f"/waitlist/offers/{offer.id}/accept").status_code == 404


def test_staff_see_waitlist_length_on_the_day_view_and_schedule_editor(
    client: Any, world: World, sold_out: Any
) -> None:
    session, _booked = sold_out
    sign_in(client, world.accounts[1])
    client.post(f"/book/sessions/{session.id}/waitlist", data={"patient_id": world.patients[1].id})
    switch_to(client, world.registrar)
    day = client.get(
        f"/staff/day?clinician_id={world.clinician.id}&date={session.local_date.isoformat()}"
    ).get_data(as_text=True)
    assert 'data-waitlist-length="1"' in day
    assert f'data-demand-clinician="{world.clinician.id}"' in day
    switch_to(client, world.admin)
    editor = client.get("/admin/schedule").get_data(as_text=True)
    assert f'data-demand-clinician="{world.clinician.id}"' in editor
