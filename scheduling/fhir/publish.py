"""SMART Scheduling Links: a manifest and NDJSON files of Locations, Schedules and released Slots.

Files are rebuilt at most once a minute per process and keep their ETag and Last-Modified
while their content is unchanged, so aggregators can poll with If-None-Match cheaply.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scheduling.fhir import reads
from scheduling.fhir import resources as fhir
from scheduling.fhir.params import Range

KINDS = ("Location", "Schedule", "Slot")
FRESH_FOR = timedelta(seconds=60)
PUBLISH_DAYS = 28


@dataclass(frozen=True)
class Publication:
    generated_at: datetime
    modified_at: datetime
    files: dict[str, str]  # kind -> NDJSON text
    etags: dict[str, str]


_cache: dict[int, Publication] = {}
_lock = threading.Lock()


def _ndjson(resources: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in resources)


def build(hospital_id: int, *, now: datetime) -> dict[str, str]:
    """The three NDJSON files, from released places only."""
    cat = reads.catalogue(hospital_id)
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
        resource = reads.schedule_resource(key, cat, now=now)
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


def publication(hospital_id: int, *, now: datetime) -> Publication:
    """The current publication, rebuilt when older than FRESH_FOR."""
    with _lock:
        cached = _cache.get(hospital_id)
    if cached is not None and now - cached.generated_at < FRESH_FOR:
        return cached
    files = build(hospital_id, now=now)
    etags = {k: hashlib.sha256(v.encode()).hexdigest()[:32] for k, v in files.items()}
    modified = now
    if cached is not None and cached.etags == etags:
        modified = cached.modified_at
    fresh = Publication(generated_at=now, modified_at=modified, files=files, etags=etags)
    with _lock:
        _cache[hospital_id] = fresh
    return fresh


def forget() -> None:
    """Drop the cached files (tests; a schedule change that must show at once)."""
    with _lock:
        _cache.clear()
