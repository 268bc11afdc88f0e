"""SMART Scheduling Links: a manifest and NDJSON files of Locations, Schedules and released Slots.

The publish job (scheduling.jobs) rebuilds the files and stores them (FhirPublication); polls
only read what it stored, so they never rebuild. A file keeps its ETag and Last-Modified while
its content is unchanged, so aggregators can poll with If-None-Match cheaply.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from hospital.organisation.models import Hospital
from scheduling.fhir import reads
from scheduling.fhir import resources as fhir
from scheduling.fhir.models import FhirPublication
from scheduling.fhir.params import Range

KINDS = ("Location", "Schedule", "Slot")
PUBLISH_DAYS = 28


@dataclass(frozen=True)
class Publication:
    generated_at: datetime
    modified_at: datetime  # the newest file's change (the manifest's Last-Modified)
    files: dict[str, str]  # kind -> NDJSON text
    etags: dict[str, str]
    modified: dict[str, datetime]  # kind -> when that file's content last changed


def _ndjson(resources: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in resources)


def build(hospital_id: int, *, now: datetime) -> dict[str, str]:
    """The three NDJSON files, from released places only."""
    cat = reads.catalogue(hospital_id)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    window = Range(now, now + timedelta(days=PUBLISH_DAYS))
    slots = [
        s
        for s in reads.open_slots(hospital_id, reads.SlotFilter(window=window), now=now)
        if s.place.release_at <= now
    ]
    keys = sorted(
        {(s.place.department_id, s.place.clinician_id, s.service_point_id) for s in slots},
        key=lambda k: (k[0], k[1] or 0, k[2] or 0),
    )
    schedules = []
    for department_id, clinician_id, point_id in keys:
        key = (department_id, clinician_id, None if clinician_id is not None else point_id)
        # The horizon from the day's start: the file changes daily, not at every run.
        resource = reads.schedule_resource(key, cat, now=day)
        if resource is not None:
            if point_id is not None and clinician_id is not None:
                resource["actor"].append({"reference": f"Location/{point_id}"})
            schedules.append(resource)
    published = {s["id"] for s in schedules}
    slot_resources = [
        reads.slot_resource(s, cat, now=now, publish=True)
        for s in slots
        if s.schedule_id in published
    ]
    point_ids = sorted({s.service_point_id for s in slots if s.service_point_id is not None})
    locations = [fhir.location(cat.points[p], cat.hospital) for p in point_ids if p in cat.points]
    return {
        "Location": _ndjson(locations),
        "Schedule": _ndjson(_unique(schedules)),
        "Slot": _ndjson(slot_resources),
    }


def _unique(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for resource in resources:
        seen.setdefault(resource["id"], resource)
    return list(seen.values())


def _etag(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def refresh(hospital_id: int, *, now: datetime) -> int:
    """Rebuild and store one hospital's files; returns how many files changed (flushes only)."""
    files = build(hospital_id, now=now)
    stored = {
        row.kind: row
        for row in db.session.scalars(
            sa.select(FhirPublication).where(FhirPublication.hospital_id == hospital_id)
        )
    }
    changed = 0
    for kind, text in files.items():
        etag = _etag(text)
        row = stored.get(kind)
        if row is None:
            row = FhirPublication(hospital_id=hospital_id, kind=kind, modified_at=now, etag="")
            db.session.add(row)
        if row.etag != etag:
            row.content, row.etag, row.modified_at = text, etag, now
            changed += 1
        row.generated_at = now
    db.session.flush()
    return changed


def refresh_all(*, now: datetime) -> int:
    """The publish job: rebuild every hospital's files; returns how many files changed."""
    hospital_ids = db.session.scalars(sa.select(Hospital.id).order_by(Hospital.id)).all()
    return sum(refresh(hospital_id, now=now) for hospital_id in hospital_ids)


def publication(hospital_id: int, *, now: datetime) -> Publication:
    """The stored publication; built in memory (not stored) only before the job first ran."""
    rows = {
        row.kind: row
        for row in db.session.scalars(
            sa.select(FhirPublication).where(FhirPublication.hospital_id == hospital_id)
        )
    }
    if set(rows) == set(KINDS):
        return Publication(
            generated_at=min(r.generated_at for r in rows.values()),
            modified_at=max(r.modified_at for r in rows.values()),
            files={k: r.content for k, r in rows.items()},
            etags={k: r.etag for k, r in rows.items()},
            modified={k: r.modified_at for k, r in rows.items()},
        )
    files = build(hospital_id, now=now)
    etags = {k: _etag(v) for k, v in files.items()}
    return Publication(
        generated_at=now,
        modified_at=now,
        files=files,
        etags=etags,
        modified=dict.fromkeys(files, now),
    )
