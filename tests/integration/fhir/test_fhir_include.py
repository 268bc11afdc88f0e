"""_include: the resources a page references join the Bundle (search mode "include"), each once,
under the same access rule and audit as a direct search."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db
from tests.integration.fhir.conftest import BASE, Fhir, validate
from tests.integration.fhir.test_fhir_operations import parameters, post, proposal


def _by_mode(bundle: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    matches = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    return matches, included


def _hold(client: Any, world: Fhir) -> dict[str, Any]:
    held = post(
        client,
        "hold",
        parameters(appointment_resource=proposal(world.slots[0].id, world.patient.id)),
        world.patient_token,
    )
    assert held.status_code == 201, held.json
    return held.json["entry"][0]["resource"]


def test_slots_include_their_schedule_once(client: Any, world: Fhir) -> None:
    bundle = client.get(
        f"{BASE}/Slot", query_string={"_include": "Slot:schedule"}, headers=world.auth()
    ).json
    validate(bundle)
    slots, included = _by_mode(bundle)
    assert len(slots) == len(world.slots) == bundle["total"]
    assert [r["resourceType"] for r in included] == ["Schedule"]
    assert {s["schedule"]["reference"] for s in slots} == {f"Schedule/{included[0]['id']}"}


def test_appointments_include_patient_and_practitioner(client: Any, world: Fhir) -> None:
    appointment = _hold(client, world)
    bundle = client.get(
        f"{BASE}/Appointment",
        query_string=[
            ("patient", f"Patient/{world.patient.id}"),
            ("_include", "Appointment:patient"),
            ("_include", "Appointment:practitioner"),
        ],
        headers=world.auth(),
    ).json
    validate(bundle)
    matches, included = _by_mode(bundle)
    assert [m["id"] for m in matches] == [appointment["id"]]
    assert sorted((r["resourceType"], r["id"]) for r in included) == [
        ("Patient", str(world.patient.id)),
        ("Practitioner", str(world.clinician.id)),
    ]


def test_a_system_clients_included_patients_are_audited(client: Any, world: Fhir) -> None:
    _hold(client, world)
    response = client.get(
        f"{BASE}/Appointment",
        query_string={"_include": "Appointment:patient"},
        headers=world.auth(world.system_token),
    )
    assert response.status_code == 200, response.json
    _matches, included = _by_mode(response.json)
    assert [r["id"] for r in included] == [str(world.patient.id)]
    actions = set(
        db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.patient_id == world.patient.id)
        )
    )
    assert {"fhir.appointment.read", "fhir.patient.read"} <= actions


def test_an_include_needs_the_scope_of_its_target(client: Any, world: Fhir) -> None:
    response = client.get(
        f"{BASE}/Schedule",
        query_string={"_include": "Schedule:actor"},
        headers=world.auth(world.readonly_token),
    )
    assert response.status_code == 403, response.json
    assert response.json["issue"][0]["details"]["coding"][0]["code"] == "insufficient_scope"


def test_an_unsupported_include_is_a_400(client: Any, world: Fhir) -> None:
    response = client.get(
        f"{BASE}/Slot", query_string={"_include": "Slot:patient"}, headers=world.auth()
    )
    assert response.status_code == 400
    validate(response.json)
    assert "Slot:schedule" in response.json["issue"][0]["diagnostics"]


def test_the_capability_statement_lists_the_includes(client: Any, db_session: Any) -> None:
    statement = client.get(f"{BASE}/metadata").json
    validate(statement)
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert "Appointment:patient" in by_type["Appointment"]["searchInclude"]
    assert by_type["Slot"]["searchInclude"] == ["Slot:schedule"]
