"""The waitlist's figures on the statistics page (issue 15 item 5), placed there by scheduling."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hospital.db import db
from scheduling.models import WaitlistOffer
from scheduling.services import booking, changes, offers
from scheduling.services import waitlist as waitlist_service
from tests.integration.scheduling.conftest import World
from tests.support.auth import sign_in
from tests.support.scheduling_factories import NOW, create_clinic_session, slots_of


def _figure(page: str, name: str) -> str:
    found = re.search(rf"<td {name}>([^<]*)</td>", page)
    assert found, f"no {name} on the statistics page"
    return found.group(1).strip()


def test_freed_places_offers_and_rebookings_show_on_the_statistics_page(
    client: Any, world: World
) -> None:
    session = create_clinic_session(world.clinician, start=time(8), end=time(8, 15))
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    booked = booking.confirm(held.id, actor=world.accounts[0], now=NOW)
    waitlist_service.join(
        actor=world.accounts[1], patient_id=world.patients[1].id, session_id=session.id, now=NOW
    )
    changes.cancel(booked.id, actor=world.accounts[0], now=NOW + timedelta(minutes=1))
    offer = db.session.scalars(sa.select(WaitlistOffer)).one()
    offers.accept(offer.id, actor=world.accounts[1], now=NOW + timedelta(minutes=3))
    db.session.commit()

    sign_in(client, world.admin)
    day = NOW.astimezone(ZoneInfo(world.hospital.timezone)).date().isoformat()  # freed that day
    page = client.get(f"/reports/statistics?start={day}&end={day}&lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "data-waitlist-statistics" in text
    assert _figure(text, "data-freed") == "1"
    assert _figure(text, "data-offers-sent") == "1"
    assert _figure(text, "data-offers-accepted") == "1"
    assert _figure(text, "data-offers-lapsed") == "0"

    zh = client.get(f"/reports/statistics?start={day}&end={day}&lang=zh").get_data(as_text=True)
    assert "候补" in zh and "空出的号源" in zh


def test_the_panel_is_empty_but_present_without_waitlist_activity(
    client: Any, world: World
) -> None:
    sign_in(client, world.admin)
    page = client.get("/reports/statistics?start=2026-11-01&end=2026-11-02").get_data(as_text=True)
    assert _figure(page, "data-freed") == "0"
    assert _figure(page, "data-waitlist-no-show") == "—"
