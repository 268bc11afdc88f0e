"""The waitlist through the REST API: join, see the offer, accept or decline, staff's demand."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from flask import Flask

from hospital.db import utcnow
from scheduling.services import booking
from tests.integration.scheduling.conftest import World
from tests.integration.scheduling.test_scheduling_api import API, switch_to, upcoming_session
from tests.support.auth import sign_in
from tests.support.scheduling_factories import slots_of


@pytest.fixture(autouse=True)
def _no_quiet_hours(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # The API runs on the real clock: offers must not wait for the morning whenever CI runs.
    monkeypatch.setitem(app.config, "WAITLIST_QUIET_HOURS", "00:00-00:00")


@pytest.fixture
def sold_out(world: World) -> tuple[Any, Any]:
    session = upcoming_session(world, start=time(9), end=time(9, 15), capacity=1)
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=utcnow()
    )
    return session, booking.confirm(held.id, actor=world.accounts[0], now=utcnow())


def test_a_waiter_joins_gets_the_freed_place_and_accepts_it(
    client: Any, world: World, sold_out: Any
) -> None:
    session, booked = sold_out
    sign_in(client, world.accounts[1])
    joined = client.post(
        f"{API}/waitlist", json={"patient_id": world.patients[1].id, "session_id": session.id}
    )
    assert joined.status_code == 201, joined.json
    assert (joined.json["position"], joined.json["state"], joined.json["offer"]) == (
        1,
        "waiting",
        None,
    )
    switch_to(client, world.accounts[0])
    assert client.post(f"{API}/appointments/{booked.id}/cancel", json={}).status_code == 200
    switch_to(client, world.accounts[1])
    [entry] = client.get(f"{API}/waitlist").json
    offer = entry["offer"]
    assert entry["state"] == "offered" and offer["state"] == "offered"
    assert client.get(f"{API}/waitlist/offers/{offer['id']}").json["expires_at"]
    accepted = client.post(f"{API}/waitlist/offers/{offer['id']}/accept", json={})
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["state"] == "booked"
    again = client.post(f"{API}/waitlist/offers/{offer['id']}/decline", json={})
    assert again.status_code == 409 and again.json["code"] == "waitlist_offer_closed"


def test_declining_keeps_the_waiter_on_the_list(client: Any, world: World, sold_out: Any) -> None:
    session, booked = sold_out
    sign_in(client, world.accounts[1])
    client.post(
        f"{API}/waitlist", json={"patient_id": world.patients[1].id, "session_id": session.id}
    )
    switch_to(client, world.accounts[0])
    client.post(f"{API}/appointments/{booked.id}/cancel", json={})
    switch_to(client, world.accounts[1])
    offer = client.get(f"{API}/waitlist").json[0]["offer"]
    declined = client.post(f"{API}/waitlist/offers/{offer['id']}/decline", json={})
    assert declined.status_code == 200 and declined.json["state"] == "declined"
    [entry] = client.get(f"{API}/waitlist").json
    assert entry["state"] == "waiting"
    left = client.delete(f"{API}/waitlist/{entry['id']}", headers={"X-Requested-With": "fetch"})
    assert left.status_code == 200 and left.json["state"] == "left"


def test_bad_waitlist_input_is_refused_clearly(client: Any, world: World, sold_out: Any) -> None:
    session, _booked = sold_out
    sign_in(client, world.accounts[1])
    both = client.post(
        f"{API}/waitlist",
        json={
            "patient_id": world.patients[1].id,
            "session_id": session.id,
            "clinician_id": world.clinician.id,
        },
    )
    assert both.status_code == 422
    extra = client.post(
        f"{API}/waitlist",
        json={"patient_id": world.patients[1].id, "session_id": session.id, "state": "offered"},
    )
    assert extra.status_code == 422
    stranger = client.post(
        f"{API}/waitlist", json={"patient_id": world.patients[2].id, "session_id": session.id}
    )
    assert stranger.status_code == 404
    assert client.get(f"{API}/waitlist/offers/999999").status_code == 404
    assert client.get(f"{API}/waitlist/demand").status_code == 403


def test_staff_see_demand_and_statistics(client: Any, world: World, sold_out: Any) -> None:
    session, _booked = sold_out
    sign_in(client, world.accounts[1])
    client.post(
        f"{API}/waitlist", json={"patient_id": world.patients[1].id, "session_id": session.id}
    )
    switch_to(client, world.registrar)
    demand = client.get(f"{API}/waitlist/demand")
    assert demand.status_code == 200
    assert [(d["clinician_id"], d["waiting"]) for d in demand.json] == [(world.clinician.id, 1)]
    day = session.local_date.isoformat()
    stats = client.get(
        f"{API}/waitlist/statistics", query_string={"date_from": day, "date_to": day}
    )
    assert stats.status_code == 200 and stats.json["freed"] == 0
    backwards = client.get(
        f"{API}/waitlist/statistics", query_string={"date_from": day, "date_to": "2020-01-01"}
    )
    assert backwards.status_code == 422
