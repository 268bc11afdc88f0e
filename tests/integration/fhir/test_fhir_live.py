"""Against a live server thread: the published fhirclient library end to end, 50 threads racing
for one slot through $hold, and the SMART Scheduling Links files."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from fhirclient.models.appointment import Appointment as FhirAppointment
from fhirclient.models.bundle import Bundle
from fhirclient.models.slot import Slot as FhirSlot
from fhirclient.server import FHIRServer
from flask import Flask
from werkzeug.serving import make_server

from hospital.accounts.sessions import open_session
from hospital.db import db, utcnow
from hospital.unit_of_work import unit_of_work
from scheduling.models import Appointment, AppointmentState
from tests.integration.fhir.conftest import build_fhir_world, upcoming, validate
from tests.integration.scheduling.conftest import assert_slot_invariants
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.scheduling_factories import slots_of


@pytest.fixture
def live(app: Flask, committed: None) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/fhir/r4"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def live_world(app: Flask, live: str) -> SimpleNamespace:
    with app.app_context(), unit_of_work():
        world = build_fhir_world()
        return SimpleNamespace(
            patient_id=world.patient.id,
            clinician_id=world.clinician.id,
            n_slots=len(world.slots),
            patient_token=world.patient_token,
            system_token=world.system_token,
        )


def fhir_server(base: str, token: str) -> FHIRServer:
    server = FHIRServer(None, base_uri=base + "/")
    server.session.headers["Authorization"] = f"Bearer {token}"
    return server


def parameters(**resources: Any) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": k.replace("_", "-"), "resource": v} for k, v in resources.items()],
    }


@pytest.mark.parametrize("who", ["patient", "system"])
def test_fhirclient_finds_holds_books_and_cancels(
    live: str, live_world: SimpleNamespace, who: str
) -> None:
    world = live_world
    server = fhir_server(live, world.patient_token if who == "patient" else world.system_token)
    slots = list(FhirSlot.where({"status": "free"}).perform_resources_iter(server))
    assert len(slots) == world.n_slots and slots[0].status == "free"
    found = Bundle(
        server.post_json(
            "Appointment/$find",
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "patient", "valueString": f"Patient/{world.patient_id}"},
                    {"name": "practitioner", "valueString": f"Practitioner/{world.clinician_id}"},
                ],
            },
        ).json()
    )
    proposal = found.entry[0].resource
    assert isinstance(proposal, FhirAppointment) and proposal.status == "proposed"
    held = (
        Bundle(
            server.post_json(
                "Appointment/$hold", parameters(appointment_resource=proposal.as_json())
            ).json()
        )
        .entry[0]
        .resource
    )
    assert held.status == "pending" and held.id
    booked_json = dict(held.as_json(), status="booked")
    booked = (
        Bundle(
            server.post_json(
                "Appointment/$book", parameters(appointment_resource=booked_json)
            ).json()
        )
        .entry[0]
        .resource
    )
    assert booked.status == "booked"
    again = FhirAppointment.read(booked.id, server)
    assert again.status == "booked" and again.slot[0].reference == proposal.slot[0].reference
    cancel = dict(
        again.as_json(), status="cancelled", cancelationReason={"text": "no longer needed"}
    )
    cancelled = (
        Bundle(
            server.post_json("Appointment/$book", parameters(appointment_resource=cancel)).json()
        )
        .entry[0]
        .resource
    )
    assert cancelled.status == "cancelled"


def test_fifty_threads_holding_one_slot_through_hold(app: Flask, live: str, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    capacity = 5
    with app.app_context(), unit_of_work():
        world = build_fhir_world()
        slot = slots_of(upcoming(factories.create_clinician(world.department), capacity=capacity))[
            0
        ]
        people = []
        for _ in range(50):
            account = factories.create_account(world.hospital)
            patient = factories.create_patient(world.hospital, account=account)
            people.append((open_session(account, now=utcnow()), patient.id))
        slot_id = slot.id
        db.session.commit()
    barrier = threading.Barrier(len(people))
    results: list[Any] = [None] * len(people)

    def run(i: int, token: str, patient_id: int) -> None:
        body = parameters(
            appointment_resource={
                "resourceType": "Appointment",
                "status": "proposed",
                "slot": [{"reference": f"Slot/{slot_id}"}],
                "participant": [
                    {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}
                ],
            }
        )
        barrier.wait()
        response = requests.post(
            f"{live}/Appointment/$hold",
            data=json.dumps(body),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/fhir+json",
                "Accept-Language": "en",
            },
            timeout=120,
        )
        results[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=run, args=(i, t, p)) for i, (t, p) in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: capacity, 409: 50 - capacity}, results
    for status, body in results:
        if status == 409:
            assert body["resourceType"] == "OperationOutcome"
            assert body["issue"][0]["details"]["coding"][0]["code"] == "slot_full"
    with app.app_context():
        held = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Appointment)
            .where(Appointment.slot_id == slot_id, Appointment.state == AppointmentState.HELD)
        )
        assert held == capacity
        assert_slot_invariants()


def test_bulk_publish_manifest_and_files_validate(client: Any, db_session: Any) -> None:
    world = build_fhir_world()
    hidden = slots_of(
        upcoming(
            factories.create_clinician(world.department), release_at=utcnow() + timedelta(days=1)
        )
    )
    db.session.commit()
    manifest = client.get("/fhir/r4/$bulk-publish", query_string={})
    assert manifest.status_code == 200
    assert [o["type"] for o in manifest.json["output"]] == ["Location", "Schedule", "Slot"]
    files = {}
    for output in manifest.json["output"]:
        response = client.get(output["url"].replace("http://localhost", ""))
        assert response.status_code == 200 and response.headers["ETag"]
        assert response.headers["Last-Modified"]
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
        for line in lines:
            validate(line)
        files[output["type"]] = lines
        cached = client.get(
            output["url"].replace("http://localhost", ""),
            headers={"If-None-Match": response.headers["ETag"]},
        )
        assert cached.status_code == 304
    schedules = {s["id"] for s in files["Schedule"]}
    slot_ids = {int(s["id"]) for s in files["Slot"]}
    assert slot_ids == {s.id for s in world.slots}
    assert not slot_ids & {s.id for s in hidden}
    assert all(s["schedule"]["reference"].split("/")[1] in schedules for s in files["Slot"])
    urls = {x["url"].rsplit("/", 1)[1] for s in files["Slot"] for x in s["extension"]}
    assert {"booking-deep-link", "booking-phone", "slot-capacity"} <= urls
    assert [loc["id"] for loc in files["Location"]] == [str(world.point.id)]


def test_a_signed_in_patient_gets_a_bearer_token(client: Any, db_session: Any) -> None:
    world = build_fhir_world()
    sign_in(client, world.account)
    refused = client.post("/fhir/r4/auth/token")
    assert refused.status_code == 400
    response = client.post("/fhir/r4/auth/token", json={})
    assert response.status_code == 200, response.json
    token = response.json["access_token"]
    with client.session_transaction() as session:
        session.clear()
    from flask import g

    g.pop("_login_user", None)
    mine = client.get("/fhir/r4/Patient", headers={"Authorization": f"Bearer {token}"})
    assert [e["resource"]["id"] for e in mine.json["entry"]] == [str(world.patient.id)]
