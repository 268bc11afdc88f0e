"""The hospital's triage lexicon (shipped entries with its admins' edits) and answering with it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.guide.models import TriageEntryEdit
from hospital.guide.triage import (
    Entry,
    Lexicon,
    Suggestion,
    TriageResult,
    entry_from_dict,
    for_hospital,
    load_shipped,
    pinyin_of,
    shipped_lexicon,
    triage,
)
from hospital.organisation.models import Department, ServicePoint, ServicePointKind

_cache: dict[tuple[int, str], Lexicon] = {}
_cache_lock = threading.Lock()


def _edits(hospital_id: int) -> list[TriageEntryEdit]:
    return list(
        db.session.scalars(
            sa.select(TriageEntryEdit)
            .where(TriageEntryEdit.hospital_id == hospital_id)
            .order_by(TriageEntryEdit.id)
        )
    )


def lexicon_for(hospital_id: int) -> Lexicon:
    """The shipped lexicon with this hospital's edits; rebuilt only after an edit."""
    edits = _edits(hospital_id)
    if not edits:
        return shipped_lexicon()
    version = ",".join(f"{e.id}:{e.updated_at.isoformat()}" for e in edits)
    with _cache_lock:
        found = _cache.get((hospital_id, version))
    if found is None:
        found = Lexicon.shipped([entry_from_dict({**e.body, "key": e.key}) for e in edits])
        with _cache_lock:
            for stale in [k for k in _cache if k[0] == hospital_id]:
                del _cache[stale]
            _cache[(hospital_id, version)] = found
    return found


@dataclass(frozen=True)
class EntryView:
    entry: Entry
    edited: bool
    shipped: bool

    def as_dict(self) -> dict[str, Any]:
        spellings = [pinyin_of(w) for w in self.entry.zh]
        return {
            **self.entry.as_dict(),
            "edited": self.edited,
            "shipped": self.shipped,
            "pinyin_full": [full for full, _ in spellings],
            "pinyin_initials": [initials for _, initials in spellings],
        }


def entries(hospital_id: int) -> list[EntryView]:
    """Every entry: shipped ones (maybe edited or switched off) and the hospital's own."""
    shipped = {raw["key"]: entry_from_dict(raw) for raw in load_shipped()["entries"]}
    edits = {e.key: entry_from_dict({**e.body, "key": e.key}) for e in _edits(hospital_id)}
    out = [EntryView(edits.get(k, entry), k in edits, True) for k, entry in shipped.items()]
    out += [EntryView(e, True, False) for k, e in edits.items() if k not in shipped]
    return out


def targets() -> list[tuple[str, str, str]]:
    """(code, 中文, English) of every target an entry may point at."""
    return [(t.code, t.name_zh, t.name_en) for t in shipped_lexicon().targets.values()]


class EntryNotFound(NotFound):
    code = ErrorCode.LEXICON_ENTRY_NOT_FOUND

    def __init__(self) -> None:
        super().__init__(_l("No lexicon entry has that key."))


def save_entry(
    hospital_id: int, key: str, values: Mapping[str, Any], *, actor: Account, now: datetime
) -> EntryView:
    """Write the hospital's version of an entry (a new key adds an entry of its own)."""
    body = {
        k: values[k]
        for k in ("kind", "label_zh", "label_en", "zh", "en", "pinyin", "targets", "active")
        if k in values
    }
    edit = db.session.scalar(
        sa.select(TriageEntryEdit).where(
            TriageEntryEdit.hospital_id == hospital_id, TriageEntryEdit.key == key
        )
    )
    if edit is None:
        edit = TriageEntryEdit(hospital_id=hospital_id, key=key)
        db.session.add(edit)
    edit.body = body
    edit.updated_at = now
    edit.updated_by_id = actor.id
    db.session.flush()
    record(
        action="guide.lexicon_entry_saved",
        actor=actor,
        hospital_id=hospital_id,
        object_type="triage_entry",
        object_id=key,
    )
    shipped_keys = {raw["key"] for raw in load_shipped()["entries"]}
    return EntryView(entry_from_dict({**body, "key": key}), True, key in shipped_keys)


def reset_entry(hospital_id: int, key: str, *, actor: Account, now: datetime) -> None:
    """Drop the hospital's version: a shipped entry comes back as shipped, an own one goes."""
    edit = db.session.scalar(
        sa.select(TriageEntryEdit).where(
            TriageEntryEdit.hospital_id == hospital_id, TriageEntryEdit.key == key
        )
    )
    if edit is None:
        raise EntryNotFound()
    db.session.delete(edit)
    db.session.flush()
    record(
        action="guide.lexicon_entry_reset",
        actor=actor,
        hospital_id=hospital_id,
        object_type="triage_entry",
        object_id=key,
        detail={"at": now.isoformat()},
    )


@dataclass(frozen=True)
class Answer:
    """What the search box shows: the emergency warning first, then up to three suggestions."""

    text: str
    result: TriageResult
    suggestions: list[Suggestion]
    departments: dict[str, Department]
    places: dict[str, str]  # target code -> the code of a service point to show the way to

    @property
    def emergency(self) -> bool:
        return self.result.emergency


def answer(hospital_id: int, text: str) -> Answer:
    """Triage a phrase for this hospital: its departments, its lexicon."""
    lexicon = lexicon_for(hospital_id)
    result = triage(lexicon, text[:200])
    departments = {
        d.code: d
        for d in db.session.scalars(
            sa.select(Department).where(
                Department.hospital_id == hospital_id, Department.is_active.is_(True)
            )
        )
    }
    suggestions = for_hospital(lexicon, result, set(departments))
    return Answer(text, result, suggestions, departments, _places(hospital_id, departments))


def _places(hospital_id: int, departments: Mapping[str, Department]) -> dict[str, str]:
    """Where to walk for each department (its first room) and for paying (the first cashier)."""
    code_of = {d.id: code for code, d in departments.items()}
    places: dict[str, str] = {}
    points = db.session.execute(
        sa.select(ServicePoint.code, ServicePoint.department_id, ServicePoint.kind)
        .where(ServicePoint.hospital_id == hospital_id, ServicePoint.is_active.is_(True))
        .order_by(ServicePoint.code)
    )
    for code, department_id, kind in points:
        if department_id in code_of:
            places.setdefault(code_of[department_id], code)
        if kind == ServicePointKind.CASHIER:
            places.setdefault("PAY", code)
    return places
