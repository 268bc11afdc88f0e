"""SMART Scheduling Links: the publish job stores the files, polls serve them without rebuilding."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hospital.db import db, utcnow
from hospital.jobs import REGISTRY
from scheduling import jobs
from scheduling.fhir import publish
from scheduling.fhir.models import FhirPublication
from tests.integration.fhir.conftest import build_fhir_world, upcoming, validate
from tests.support import factories
from tests.support.scheduling_factories import slots_of


def slot_ids_published(client: Any) -> set[int]:
    response = client.get("/fhir/r4/$bulk-publish/Slot.ndjson")
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    for line in lines:
        validate(line)
    return {int(line["id"]) for line in lines}


def test_the_publish_job_is_registered(app: Any) -> None:
    assert REGISTRY["scheduling.publish_scheduling_links"].func is jobs.publish_scheduling_links


def test_the_job_is_idempotent_and_publishes_a_newly_released_session(
    client: Any, db_session: Any
) -> None:
    world = build_fhir_world()
    later = slots_of(
        upcoming(
            factories.create_clinician(world.department), release_at=utcnow() + timedelta(hours=1)
        )
    )
    db.session.commit()
    now = utcnow()
    assert jobs.publish_scheduling_links(now=now) == 3
    db.session.commit()
    stored = {
        r.kind: (r.etag, r.modified_at) for r in db.session.scalars(sa.select(FhirPublication))
    }
    manifest = client.get("/fhir/r4/$bulk-publish")
    assert jobs.publish_scheduling_links(now=now) == 0  # nothing changed: nothing rewritten
    db.session.commit()
    again = {
        r.kind: (r.etag, r.modified_at) for r in db.session.scalars(sa.select(FhirPublication))
    }
    assert again == stored
    unchanged = client.get(
        "/fhir/r4/$bulk-publish", headers={"If-None-Match": manifest.headers["ETag"]}
    )
    assert unchanged.status_code == 304
    assert slot_ids_published(client) == {s.id for s in world.slots}

    # Polls read what the job stored: a release the job has not seen is not published yet.
    released_at = now + timedelta(hours=2)
    assert slot_ids_published(client) == {s.id for s in world.slots}
    assert jobs.publish_scheduling_links(now=released_at) >= 1
    db.session.commit()
    published = slot_ids_published(client)
    assert {s.id for s in later} <= published
    assert publish.publication(world.hospital.id, now=released_at).modified_at == released_at


def test_each_file_has_its_own_last_modified(client: Any, db_session: Any) -> None:
    from email.utils import format_datetime, parsedate_to_datetime

    world = build_fhir_world()
    upcoming(factories.create_clinician(world.department), release_at=utcnow() + timedelta(hours=1))
    db.session.commit()
    first = utcnow().replace(microsecond=0)
    jobs.publish_scheduling_links(now=first)
    db.session.commit()
    released_at = first + timedelta(hours=2)
    jobs.publish_scheduling_links(now=released_at)  # a new clinician's places: no new room
    db.session.commit()

    def modified(kind: str) -> Any:
        response = client.get(f"/fhir/r4/$bulk-publish/{kind}.ndjson")
        return parsedate_to_datetime(response.headers["Last-Modified"])

    assert modified("Slot") == modified("Schedule") == released_at
    assert modified("Location") == first
    manifest = client.get("/fhir/r4/$bulk-publish")
    assert parsedate_to_datetime(manifest.headers["Last-Modified"]) == released_at
    since = {"If-Modified-Since": format_datetime(first, usegmt=True)}
    assert client.get("/fhir/r4/$bulk-publish/Location.ndjson", headers=since).status_code == 304
    assert client.get("/fhir/r4/$bulk-publish/Slot.ndjson", headers=since).status_code == 200
