"""Read and search over FHIR: every answer validates against fhir.resources' R4 models."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db
from tests.integration.fhir.conftest import BASE, Fhir, upcoming, validate
from tests.support import factories


def test_metadata_is_a_public_capability_statement(client: Any, db_session: Any) -> None:
    response = client.get(f"{BASE}/metadata")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    statement = validate(response.json)
    assert statement.fhirVersion == "4.0.1"
    kinds = {r["type"] for r in response.json["rest"][0]["resource"]}
    assert {"Slot", "Schedule", "Appointment", "Patient", "Location"} <= kinds
    appointment = next(
        r for r in response.json["rest"][0]["resource"] if r["type"] == "Appointment"
    )
    assert {o["name"] for o in appointment["operation"]} == {"find", "hold", "book"}


@pytest.mark.parametrize(
    "kind",
    ["Schedule", "Slot", "Practitioner", "PractitionerRole", "Location", "HealthcareService"],
)
def test_every_catalogue_resource_searches_reads_and_validates(
    client: Any, world: Fhir, kind: str
) -> None:
    response = client.get(f"{BASE}/{kind}", headers=world.auth())
    assert response.status_code == 200, response.json
    bundle = response.json
    validate(bundle)
    assert bundle["total"] >= 1 and bundle["entry"]
    first = bundle["entry"][0]["resource"]
    again = client.get(f"{BASE}/{kind}/{first['id']}", headers=world.auth(world.system_token))
    assert again.status_code == 200 and again.json == first


def test_slots_say_free_places_and_reference_their_schedule(client: Any, world: Fhir) -> None:
    bundle = client.get(f"{BASE}/Slot", headers=world.auth()).json
    slots = [e["resource"] for e in bundle["entry"]]
    assert len(slots) == bundle["total"] == len(world.slots)
    slot = slots[0]
    assert slot["status"] == "free"
    assert slot["extension"][0]["valueInteger"] == 2
    schedule_id = slot["schedule"]["reference"].split("/")[1]
    schedule = client.get(f"{BASE}/Schedule/{schedule_id}", headers=world.auth()).json
    validate(schedule)
    actors = {a["reference"] for a in schedule["actor"]}
    assert f"Practitioner/{world.clinician.id}" in actors
    assert f"HealthcareService/{world.department.id}" in actors
    only = client.get(
        f"{BASE}/Slot", query_string={"schedule": f"Schedule/{schedule_id}"}, headers=world.auth()
    ).json
    assert only["total"] == len(world.slots)


def test_unreleased_places_are_busy_unavailable(client: Any, world: Fhir) -> None:
    from datetime import timedelta

    from hospital.db import utcnow

    other = factories.create_clinician(world.department)
    upcoming(other, release_at=utcnow() + timedelta(days=1))
    db.session.commit()
    bundle = client.get(
        f"{BASE}/Slot", query_string={"status": "busy-unavailable"}, headers=world.auth()
    ).json
    assert bundle["total"] > 0
    assert {e["resource"]["status"] for e in bundle["entry"]} == {"busy-unavailable"}


def test_paging_follows_next_links_to_the_end(client: Any, world: Fhir) -> None:
    seen: list[str] = []
    url = f"{BASE}/Slot?_count=5"
    while url:
        bundle = client.get(url, headers=world.auth()).json
        validate(bundle)
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else ""
    assert len(seen) == len(set(seen)) == len(world.slots)


def test_a_patient_sees_only_their_own_patients(client: Any, world: Fhir) -> None:
    stranger = factories.create_patient(world.hospital)
    db.session.commit()
    bundle = client.get(f"{BASE}/Patient", headers=world.auth()).json
    validate(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(world.patient.id)]
    refused = client.get(f"{BASE}/Patient/{stranger.id}", headers=world.auth())
    assert refused.status_code == 404
    assert refused.json["resourceType"] == "OperationOutcome"


def test_a_system_client_reads_a_patient_and_the_read_is_audited(client: Any, world: Fhir) -> None:
    response = client.get(
        f"{BASE}/Patient/{world.patient.id}", headers=world.auth(world.system_token)
    )
    assert response.status_code == 200
    validate(response.json)
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.patient_id == world.patient.id)
    ).all()
    assert {"fhir.patient.read", "fhir.read"} <= {e.action for e in entries}


def test_every_transaction_is_audited(client: Any, world: Fhir) -> None:
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    client.get(f"{BASE}/Slot", headers=world.auth(world.system_token))
    client.get(f"{BASE}/Slot", query_string={"bogus": "1"}, headers=world.auth())
    db.session.expire_all()
    actions = db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.outcome).order_by(AuditEntry.id.desc()).limit(2)
    ).all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before + 2
    assert [(a, o.value) for a, o in actions] == [
        ("fhir.search_type", "failed"),
        ("fhir.search_type", "success"),
    ]


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("Slot", {"bogus": "1"}, 400, "unknown_parameter"),
        ("Slot", {"start": "ge2026-13-45"}, 400, "invalid_date"),
        ("Slot", {"start": "yesterday"}, 400, "invalid_date"),
        ("Slot", {"start": "ge2026-12-01T08:00"}, 400, "invalid_date"),
        ("Slot", {"status": "maybe"}, 400, "invalid_parameter"),
        ("Slot", {"_count": "0"}, 400, "invalid_parameter"),
        ("Slot", {"_count": "abc"}, 400, "invalid_parameter"),
        ("Slot", {"schedule": "Schedule/nonsense"}, 400, "invalid_reference"),
        ("Appointment", {"date": "lt-1"}, 400, "invalid_date"),
        ("Appointment", {"patient": "Practitioner/1"}, 400, "invalid_reference"),
        ("Observation", {}, 404, "resource_not_supported"),
        ("Slot/999999999", {}, 404, "resource_not_found"),
        ("Slot/1/_history/2", {}, 404, "not_found"),
    ],
)
def test_bad_searches_answer_an_operation_outcome(
    client: Any, world: Fhir, path: str, query: dict[str, str], status: int, code: str | None
) -> None:
    response = client.get(f"{BASE}/{path}", query_string=query, headers=world.auth())
    assert response.status_code == status, response.json
    validate(response.json)
    assert response.json["resourceType"] == "OperationOutcome"
    if code:
        assert response.json["issue"][0]["details"]["coding"][0]["code"] == code


def test_another_hospitals_slot_is_not_found(client: Any, world: Fhir) -> None:
    other = factories.create_hospital()
    clinician = factories.create_clinician(factories.create_department(other))
    session = upcoming(clinician)
    db.session.commit()
    from tests.support.scheduling_factories import slots_of

    foreign = slots_of(session)[0]
    response = client.get(f"{BASE}/Slot/{foreign.id}", headers=world.auth())
    assert response.status_code == 404


def test_tokens_are_required_and_scopes_limit(client: Any, world: Fhir) -> None:
    anonymous = client.get(f"{BASE}/Slot")
    assert anonymous.status_code == 401 and anonymous.json["issue"][0]["code"] == "login"
    forged = client.get(f"{BASE}/Slot", headers=world.auth("forged-token"))
    assert forged.status_code == 401
    assert client.get(f"{BASE}/Slot", headers=world.auth(world.readonly_token)).status_code == 200
    refused = client.get(f"{BASE}/Appointment", headers=world.auth(world.readonly_token))
    assert refused.status_code == 403
    assert refused.json["issue"][0]["details"]["coding"][0]["code"] == "insufficient_scope"


def test_refusals_speak_the_requests_language(client: Any, world: Fhir) -> None:
    zh = client.get(
        f"{BASE}/Slot",
        query_string={"bogus": "1"},
        headers={**world.auth(), "Accept-Language": "zh"},
    )
    en = client.get(
        f"{BASE}/Slot",
        query_string={"bogus": "1"},
        headers={**world.auth(), "Accept-Language": "en"},
    )
    assert en.json["issue"][0]["details"]["text"] == "Unknown parameter: bogus."
    assert zh.json["issue"][0]["details"]["text"] != en.json["issue"][0]["details"]["text"]
