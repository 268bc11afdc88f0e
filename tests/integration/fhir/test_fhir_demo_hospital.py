"""Issue 19's proof: every resource the facade returns over the demo hospital validates (R4).

The demo's organisation, staff, patients and two weeks of schedules; a system client walks every
search page by page, runs $find for the whole answer, holds a place and reads patients by id
(a system client may not list them).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.db import db, utcnow
from hospital.demo import (
    seed_clinicians,
    seed_consultation_rooms,
    seed_departments,
    seed_hospital,
    seed_patients,
    seed_staff,
)
from hospital.patients.models import Patient
from scheduling.demo import seed_schedules
from scheduling.fhir.auth import create_client
from tests.integration.fhir.conftest import BASE, validate

KINDS = (
    "HealthcareService",
    "Practitioner",
    "PractitionerRole",
    "Location",
    "Schedule",
    "Slot",
    "Appointment",
)


def walk(client: Any, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every resource of a search, following its next links; each page validated."""
    resources: list[dict[str, Any]] = []
    while url:
        response = client.get(url.replace("http://localhost", ""), headers=headers)
        assert response.status_code == 200, response.json
        validate(response.json)
        resources += [entry["resource"] for entry in response.json.get("entry", [])]
        links = response.json.get("link", [])
        url = next((link["url"] for link in links if link["relation"] == "next"), "")
    return resources


def test_every_resource_over_the_demo_hospital_validates(client: Any, db_session: Any) -> None:
    now = utcnow()
    hospital = seed_hospital(now=now)
    departments = seed_departments(hospital, now=now)
    clinicians = seed_clinicians(hospital, departments, now=now)
    seed_consultation_rooms(hospital, departments, now=now)
    seed_staff(hospital, clinicians, now=now)
    seed_patients(hospital, now=now)
    seed_schedules(hospital, now=now)
    _client, token = create_client(
        hospital, name="Regional platform", scopes="system/*.rs system/Appointment.cruds", now=now
    )
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    found = walk(client, f"{BASE}/Appointment/$find?_count=10000", headers)
    assert found and all(p["status"] == "proposed" for p in found)
    patient_ids = db.session.scalars(
        sa.select(Patient.id).where(Patient.hospital_id == hospital.id)
    ).all()
    patients = [client.get(f"{BASE}/Patient/{n}", headers=headers) for n in patient_ids]
    assert patients and all(p.status_code == 200 for p in patients)
    for read in patients:
        validate(read.json)
    patient = patients[0].json
    held = client.post(
        f"{BASE}/Appointment/$hold",
        json={
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "appointment-resource",
                    "resource": dict(
                        found[0],
                        participant=[
                            {"actor": {"reference": f"Patient/{patient['id']}"}},
                            *found[0]["participant"],
                        ],
                    ),
                }
            ],
        },
        headers=headers,
    )
    assert held.status_code == 201, held.json
    validate(held.json)

    seen = {kind: walk(client, f"{BASE}/{kind}?_count=500", headers) for kind in KINDS}
    assert all(seen[kind] for kind in KINDS), {kind: len(seen[kind]) for kind in KINDS}
    for kind in ("Practitioner", "Location", "Schedule", "Slot", "Appointment"):
        first = seen[kind][0]
        read = client.get(f"{BASE}/{kind}/{first['id']}", headers=headers)
        assert read.status_code == 200 and read.json == first
    assert validate(client.get(f"{BASE}/metadata").json)
