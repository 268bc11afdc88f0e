"""The scheduling REST API: the booking flow, bad input, Idempotency-Key and calendar files."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from hospital.db import db, utcnow
from hospital.idempotency import IdempotencyRecord, IdempotencyState
from hospital.zones import local_date, zone_for
from scheduling.models import (
    Appointment,
    AppointmentState,
    BookingSuspension,
    SessionTemplate,
    Slot,
)
from tests.integration.scheduling.conftest import World, assert_slot_invariants
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session, slots_of

API = "/api/v1/scheduling"


def switch_to(client: Any, account: Any) -> None:
    """Sign in as another account; the test's app context is shared, so forget the cached user."""
    g.pop("_login_user", None)
    g.pop("hospital", None)
    sign_in(client, account)


def appointments() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Appointment))


def upcoming_session(world: World, **kw: Any) -> Any:
    """A released session the day after tomorrow (real clock: the API uses utcnow())."""
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    kw.setdefault("release_at", utcnow() - timedelta(hours=1))
    return create_clinic_session(world.clinician, local_date=day, **kw)


@pytest.fixture
def patient_client(client: Any, world: World) -> Any:
    sign_in(client, world.accounts[0])
    return client


def test_confirming_a_fee_bearing_hold_asks_for_payment(patient_client: Any, world: World) -> None:
    slot = slots_of(upcoming_session(world, capacity=2, fee_fen=5000))[0]
    held = patient_client.post(
        f"{API}/appointments", json={"patient_id": world.patients[0].id, "slot_id": slot.id}
    ).json
    response = patient_client.post(f"{API}/appointments/{held['id']}/confirm", json={})
    assert response.status_code == 409 and response.json["code"] == "payment_required"
    assert patient_client.get(f"{API}/appointments").json[0]["state"] == "held"


def test_patient_holds_confirms_and_lists_an_appointment(patient_client: Any, world: World) -> None:
    slot = slots_of(upcoming_session(world, capacity=2, fee_fen=0))[0]
    response = patient_client.post(
        f"{API}/appointments", json={"patient_id": world.patients[0].id, "slot_id": slot.id}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["state"] == "held" and body["fee_fen"] == 0 and body["hold_expires_at"]
    confirmed = patient_client.post(f"{API}/appointments/{body['id']}/confirm", json={})
    assert confirmed.status_code == 200 and confirmed.json["state"] == "booked"
    mine = patient_client.get(f"{API}/appointments")
    assert [a["id"] for a in mine.json] == [body["id"]]
    found = patient_client.get(
        f"{API}/availability",
        query_string={
            "department_id": world.department.id,
            "from": slot.local_date.isoformat(),
            "to": slot.local_date.isoformat(),
        },
    )
    assert found.status_code == 200, found.json
    (shown,) = [s for s in found.json if s["slot_id"] == slot.id]
    assert shown["remaining"] == 1 and shown["fee_class"] == "general"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"patient_id": 1, "slot_id": 1, "status": "booked"}, "status"),
        ({"patient_id": "one", "slot_id": 1}, "patient_id"),
        ({"patient_id": 1}, "slot_id"),
        ({"patient_id": 1, "slot_id": -5}, "slot_id"),
        ({"patient_id": 1.5, "slot_id": 2}, "patient_id"),
    ],
)
def test_bad_hold_bodies_get_422_naming_the_field(
    patient_client: Any, world: World, payload: dict[str, Any], field: str
) -> None:
    response = patient_client.post(f"{API}/appointments", json=payload)
    assert response.status_code == 422
    assert field in response.json["message"]
    assert appointments() == 0


def test_a_body_that_is_not_json_gets_a_4xx(patient_client: Any) -> None:
    response = patient_client.post(
        f"{API}/appointments",
        data="patient_id=1",
        headers={"Content-Type": "text/plain", "X-Requested-With": "x"},
    )
    assert 400 <= response.status_code < 500
    assert response.json["message"]


@pytest.mark.parametrize("case", ["past", "unreleased", "closed", "stranger", "suspended"])
def test_bad_holds_get_a_4xx_with_a_message_and_write_nothing(
    patient_client: Any, world: World, case: str
) -> None:
    patient = world.patients[0]
    kwargs: dict[str, Any] = {}
    today = (utcnow() + timedelta(hours=8)).date()
    if case == "past":
        kwargs = {"local_date": today - timedelta(days=3)}
    elif case == "unreleased":
        kwargs = {"release_at": utcnow() + timedelta(days=1)}
    elif case == "closed":
        now_local = utcnow() + timedelta(hours=8)
        start = (now_local + timedelta(minutes=10)).replace(second=0, microsecond=0)
        if start.date() != today or start.time() > time(23, 0):
            pytest.skip("too close to local midnight to build a closing slot today")
        kwargs = {
            "local_date": today,
            "start": start.time(),
            "end": (start + timedelta(minutes=15)).time(),
        }
    session = (
        create_clinic_session(world.clinician, release_at=utcnow() - timedelta(days=30), **kwargs)
        if kwargs and case != "unreleased"
        else upcoming_session(world, **kwargs)
    )
    if case == "stranger":
        patient = world.patients[1]
    if case == "suspended":
        db.session.add(
            BookingSuspension(
                hospital_id=world.hospital.id,
                patient_id=patient.id,
                starts_at=utcnow(),
                ends_at=utcnow() + timedelta(days=30),
                strikes=3,
            )
        )
        db.session.flush()
    response = patient_client.post(
        f"{API}/appointments", json={"patient_id": patient.id, "slot_id": slots_of(session)[0].id}
    )
    expected = {"past": 422, "unreleased": 422, "closed": 422, "stranger": 404, "suspended": 403}[
        case
    ]
    assert response.status_code == expected, response.json
    assert response.json["message"] and response.json["code"]
    assert appointments() == 0
    assert all(s.booked == 0 for s in slots_of(session))


def test_same_idempotency_key_and_body_returns_the_stored_response(
    patient_client: Any, world: World
) -> None:
    slot = slots_of(upcoming_session(world, capacity=3))[0]
    body = {"patient_id": world.patients[0].id, "slot_id": slot.id}
    headers = {"Idempotency-Key": "tap-1"}
    first = patient_client.post(f"{API}/appointments", json=body, headers=headers)
    second = patient_client.post(
        f"{API}/appointments", json=dict(reversed(body.items())), headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert appointments() == 1
    assert_slot_invariants()


def test_same_idempotency_key_with_another_body_is_refused(
    patient_client: Any, world: World
) -> None:
    a, b = slots_of(upcoming_session(world, capacity=3))[:2]
    headers = {"Idempotency-Key": "tap-2"}
    patient_client.post(
        f"{API}/appointments",
        json={"patient_id": world.patients[0].id, "slot_id": a.id},
        headers=headers,
    )
    response = patient_client.post(
        f"{API}/appointments",
        json={"patient_id": world.patients[0].id, "slot_id": b.id},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json["code"] == "idempotency_key_reused"
    assert appointments() == 1


def test_a_request_still_in_flight_with_the_key_gets_409(patient_client: Any, world: World) -> None:
    from hospital.idempotency import request_fingerprint

    slot = slots_of(upcoming_session(world))[0]
    body = {"patient_id": world.patients[0].id, "slot_id": slot.id}
    import json as _json

    db.session.add(
        IdempotencyRecord(
            hospital_id=world.hospital.id,
            account_id=world.accounts[0].id,
            key="tap-3",
            fingerprint=request_fingerprint(
                "POST", f"{API}/appointments", _json.dumps(body).encode()
            ),
            state=IdempotencyState.IN_FLIGHT,
            created_at=utcnow(),
        )
    )
    db.session.flush()
    response = patient_client.post(
        f"{API}/appointments", json=body, headers={"Idempotency-Key": "tap-3"}
    )
    assert response.status_code == 409
    assert response.json["code"] == "idempotency_in_flight"
    assert appointments() == 0


def test_a_failed_request_gives_its_key_back(patient_client: Any, world: World) -> None:
    slot = slots_of(upcoming_session(world))[0]
    body = {"patient_id": world.patients[1].id, "slot_id": slot.id}  # not this account's patient
    first = patient_client.post(
        f"{API}/appointments", json=body, headers={"Idempotency-Key": "tap-4"}
    )
    assert first.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0


def test_a_double_clicked_hold_with_two_keys_books_once(patient_client: Any, world: World) -> None:
    slot = slots_of(upcoming_session(world, capacity=3))[0]
    body = {"patient_id": world.patients[0].id, "slot_id": slot.id}
    first = patient_client.post(f"{API}/appointments", json=body, headers={"Idempotency-Key": "k1"})
    second = patient_client.post(
        f"{API}/appointments", json=body, headers={"Idempotency-Key": "k2"}
    )
    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json["code"] == "already_booked_in_session"
    assert appointments() == 1


def test_calendar_file_keeps_its_uid_and_bumps_the_sequence(
    patient_client: Any, world: World
) -> None:
    a, b = slots_of(upcoming_session(world, capacity=2))[:2]
    held = patient_client.post(
        f"{API}/appointments", json={"patient_id": world.patients[0].id, "slot_id": a.id}
    ).json
    patient_client.post(f"{API}/appointments/{held['id']}/confirm", json={})
    first = patient_client.get(f"{API}/appointments/{held['id']}/calendar.ics")
    assert first.status_code == 200 and first.mimetype == "text/calendar"
    text = first.get_data(as_text=True)
    uid = next(line for line in text.splitlines() if line.startswith("UID:"))
    assert "SEQUENCE:0" in text and "METHOD:PUBLISH" in text
    moved = patient_client.post(
        f"{API}/appointments/{held['id']}/reschedule", json={"slot_id": b.id}
    )
    assert moved.status_code == 200, moved.json
    second = patient_client.get(f"{API}/appointments/{held['id']}/calendar.ics").get_data(
        as_text=True
    )
    assert uid in second and "SEQUENCE:1" in second
    assert (
        patient_client.post(f"{API}/appointments/{held['id']}/cancel", json={}).status_code == 200
    )
    third = patient_client.get(f"{API}/appointments/{held['id']}/calendar.ics").get_data(
        as_text=True
    )
    assert (
        uid in third
        and "METHOD:CANCEL" in third
        and "STATUS:CANCELLED" in third
        and "SEQUENCE:2" in third
    )


def test_another_accounts_appointment_is_not_found(client: Any, world: World) -> None:
    slot = slots_of(upcoming_session(world))[0]
    sign_in(client, world.accounts[0])
    held = client.post(
        f"{API}/appointments", json={"patient_id": world.patients[0].id, "slot_id": slot.id}
    ).json
    switch_to(client, world.accounts[1])
    assert client.get(f"{API}/appointments/{held['id']}").status_code == 404
    assert client.post(f"{API}/appointments/{held['id']}/cancel", json={}).status_code == 404


def test_signed_out_holds_are_refused(client: Any, world: World) -> None:
    response = client.post(f"{API}/appointments", json={"patient_id": 1, "slot_id": 1})
    assert response.status_code == 401


def test_admin_creates_a_template_and_bad_ones_are_refused(client: Any, world: World) -> None:
    sign_in(client, world.admin)
    good = {
        "department_id": world.department.id,
        "clinician_id": world.clinician.id,
        "weekday": 0,
        "start_time": "08:00",
        "end_time": "12:00",
        "slot_minutes": 15,
        "capacity": 3,
        "fee_class": "expert",
        "fee_fen": 5000,
        "valid_from": local_date(utcnow(), zone_for(world.hospital)).isoformat(),
    }
    created = client.post(f"{API}/templates", json=good)
    assert created.status_code == 201, created.json
    assert created.json["release_time"] == "07:00:00"
    for bad, field in (
        ({**good, "weekday": 7}, "weekday"),
        ({**good, "end_time": "07:00"}, "end_time"),
        ({**good, "fee_class": "vip"}, "fee_class"),
        ({**good, "capacity": "3"}, "capacity"),
        ({**good, "hospital_id": 9}, "hospital_id"),
    ):
        response = client.post(f"{API}/templates", json=bad)
        assert response.status_code == 422 and field in response.json["message"], (
            field,
            response.json,
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionTemplate)) == 1
    switch_to(client, world.accounts[0])
    assert client.post(f"{API}/templates", json=good).status_code == 403


def test_staff_see_the_day_list_and_add_on_with_a_reason(client: Any, world: World) -> None:
    session = upcoming_session(world, capacity=1)
    slot = slots_of(session)[0]
    sign_in(client, world.registrar)
    for patient in world.patients[:2]:
        response = client.post(
            f"{API}/add-ons",
            json={"patient_id": patient.id, "slot_id": slot.id, "reason": "urgent"},
        )
        assert response.status_code == 201, response.json
    assert (
        client.post(
            f"{API}/add-ons", json={"patient_id": world.patients[2].id, "slot_id": slot.id}
        ).status_code
        == 422
    )
    day = client.get(
        f"{API}/day",
        query_string={"clinician_id": world.clinician.id, "date": session.local_date.isoformat()},
    )
    assert day.status_code == 200 and len(day.json) == 2 and all(a["is_addon"] for a in day.json)
    assert db.session.scalar(sa.select(Slot.addon_allowance).where(Slot.id == slot.id)) == 2
    assert_slot_invariants()


def test_every_availability_query_the_document_allows_has_an_answer(
    client: Any, world: World
) -> None:
    """A query string cannot document rules across parameters, so none is refused (issue #21)."""
    slot = slots_of(upcoming_session(world))[0]
    day = slot.local_date

    def slot_ids(**query: Any) -> set[int]:
        response = client.get(f"{API}/availability", query_string=query)
        assert response.status_code == 200, response.json
        return {s["slot_id"] for s in response.json}

    # Neither a department nor a clinician: the whole hospital.
    assert slot.id in slot_ids(**{"from": day.isoformat(), "to": day.isoformat()})
    # `to` before `from`: no day is searched.
    before = (day - timedelta(days=1)).isoformat()
    assert slot_ids(**{"from": day.isoformat(), "to": before}) == set()
    # A longer range answers its first 31 days.
    start = day - timedelta(days=30)
    assert slot.id in slot_ids(**{"from": start.isoformat(), "to": "9999-12-31"})
    assert slot.id not in slot_ids(
        **{"from": (start - timedelta(days=1)).isoformat(), "to": "9999-12-31"}
    )
    assert (
        client.get(
            f"{API}/availability", query_string={"from": "9999-12-31", "to": "9999-12-31"}
        ).json
        == []
    )


def test_the_openapi_document_describes_the_scheduling_api(client: Any) -> None:
    spec = client.get("/api/openapi.json").json
    assert f"{API}/appointments" in spec["paths"]
    assert "HoldArgs" in spec["components"]["schemas"]
    assert "AppointmentOut" in spec["components"]["schemas"]


def test_held_state_is_shown_expired_once_the_hold_lapses(
    patient_client: Any, world: World
) -> None:
    slot = slots_of(upcoming_session(world))[0]
    held = patient_client.post(
        f"{API}/appointments", json={"patient_id": world.patients[0].id, "slot_id": slot.id}
    ).json
    db.session.execute(
        sa.update(Appointment)
        .where(Appointment.id == held["id"])
        .values(hold_expires_at=utcnow() - timedelta(seconds=1))
    )
    assert patient_client.get(f"{API}/appointments/{held['id']}").json["state"] == "expired"
    response = patient_client.post(f"{API}/appointments/{held['id']}/confirm", json={})
    assert response.status_code == 409 and response.json["code"] == "hold_expired"
    query = {
        "clinician_id": world.clinician.id,
        "from": slot.local_date.isoformat(),
        "to": slot.local_date.isoformat(),
    }
    shown = patient_client.get(f"{API}/availability", query_string=query).json
    (mine,) = [s for s in shown if s["slot_id"] == slot.id]
    assert mine["remaining"] == 1 and mine["bookable"]
    db.session.expire_all()
    assert db.session.get(Appointment, held["id"]).state is not AppointmentState.BOOKED


def test_session_availability_sums_the_places_left_per_clinician_and_day(
    patient_client: Any, world: World
) -> None:
    session = upcoming_session(world, capacity=2, start=time(8), end=time(9), slot_minutes=30)
    first = slots_of(session)[0]
    patient_client.post(
        f"{API}/appointments", json={"patient_id": world.patients[0].id, "slot_id": first.id}
    )
    query = {
        "department_id": world.department.id,
        "from": session.local_date.isoformat(),
        "to": session.local_date.isoformat(),
    }
    response = patient_client.get(f"{API}/availability/sessions", query_string=query)
    assert response.status_code == 200, response.json
    (shown,) = response.json
    assert (shown["session_id"], shown["open_slots"], shown["remaining"]) == (session.id, 2, 3)
    assert shown["bookable"] and shown["clinician_name_zh"] == world.clinician.name_zh
