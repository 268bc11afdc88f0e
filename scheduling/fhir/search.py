"""Read and search each supported resource type for one caller; a read is a search by _id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l

from hospital.audit.service import record_staff_read
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.web.id_fields import parse_id
from scheduling.fhir import reads
from scheduling.fhir import resources as fhir
from scheduling.fhir.auth import Principal
from scheduling.fhir.capability import INCLUDES, SEARCHES
from scheduling.fhir.params import (
    BadParameter,
    Range,
    check_known,
    date_range,
    reference_id,
    token_code,
)
from scheduling.models import FeeClass
from scheduling.services import rules

SLOT_STATUSES = frozenset({"free", "busy", "busy-tentative", "busy-unavailable"})


def not_supported(kind: str) -> NotFound:
    return NotFound(
        _l("%(kind)s is not a resource type this server supports.", kind=kind[:40]),
        code=ErrorCode.RESOURCE_NOT_SUPPORTED,
    )


def _one(args: Any, name: str) -> str | None:
    values: list[str] = args.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter(
            _l("Give %(name)s only once.", name=name), code=ErrorCode.REPEATED_PARAMETER
        )
    return values[0]


def _ids(args: Any) -> set[str] | None:
    raw = _one(args, "_id")
    return None if raw is None else {v.strip() for v in raw.split(",") if v.strip()}


def search(
    principal: Principal, kind: str, args: Any, *, now: datetime, count: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(total, one page of resources) for a search of this kind by this caller."""
    if kind not in SEARCHES:
        raise not_supported(kind)
    check_known(set(args.keys()), frozenset(SEARCHES[kind]))
    if kind == "Appointment":
        return _appointments(principal, args, now=now, count=count, offset=offset)
    cat = reads.catalogue(principal.hospital_id)
    if kind == "Slot":
        found = _slots(principal, args, cat, now=now)
    elif kind == "Schedule":
        found = _schedules(principal, args, cat, now=now)
    elif kind == "Patient":
        found = _patients(principal, args)
    else:
        found = _catalogue(kind, args, cat)
    return len(found), found[offset : offset + count]


# Where each _include finds its references in a resource of the page.
_INCLUDE_TARGETS: dict[str, tuple[str, ...]] = {
    "Appointment:patient": ("Patient",),
    "Appointment:practitioner": ("Practitioner",),
    "Appointment:location": ("Location",),
    "Slot:schedule": ("Schedule",),
    "Schedule:actor": ("Practitioner", "PractitionerRole", "Location", "HealthcareService"),
    "PractitionerRole:practitioner": ("Practitioner",),
}


def check_includes(principal: Principal, kind: str, includes: list[str]) -> None:
    """Refuse an _include this search type does not answer, or whose target the token may not read."""
    allowed = INCLUDES.get(kind, ())
    for include in includes:
        if include not in allowed:
            raise BadParameter(
                _l(
                    "_include=%(value)s is not supported here. Supported: %(allowed)s.",
                    value=include[:60],
                    allowed=", ".join(allowed) or "-",
                ),
                code=ErrorCode.INVALID_PARAMETER,
            )
        for target in _INCLUDE_TARGETS[include]:
            principal.require(target, "r")


def _references(resource: dict[str, Any]) -> list[str]:
    """Every "Kind/id" a page resource points at (participants, schedule, actors, practitioner)."""
    found = [p["actor"]["reference"] for p in resource.get("participant", []) if "actor" in p]
    found += [a["reference"] for a in resource.get("actor", [])]
    for key in ("schedule", "practitioner"):
        if isinstance(resource.get(key), dict) and "reference" in resource[key]:
            found.append(resource[key]["reference"])
    return found


def included(
    principal: Principal, includes: list[str], page: list[dict[str, Any]], *, now: datetime
) -> list[dict[str, Any]]:
    """The resources the page references through the asked _include values, each once.

    Each target kind is fetched with one search by _id, so the same access rule and audit apply
    as to a direct search (a system client's Patient reads are audited; a patient token sees
    only its own and its family's records, and other patients are left out).
    """
    from werkzeug.datastructures import MultiDict

    wanted: dict[str, list[str]] = {}
    targets = {t for include in includes for t in _INCLUDE_TARGETS[include]}
    for resource in page:
        for reference in _references(resource):
            kind, _, number = reference.partition("/")
            if kind in targets and number not in wanted.setdefault(kind, []):
                wanted[kind].append(number)
    found: list[dict[str, Any]] = []
    for kind, numbers in wanted.items():
        if kind in ("Slot", "Appointment"):
            continue
        _total, resources = search(
            principal,
            kind,
            MultiDict({"_id": ",".join(numbers)}),
            now=now,
            count=len(numbers),
            offset=0,
        )
        found += resources
    return found


def read(principal: Principal, kind: str, resource_id: str, *, now: datetime) -> dict[str, Any]:
    if kind not in SEARCHES:
        raise not_supported(kind)
    from werkzeug.datastructures import MultiDict

    if not resource_id.replace("-", "").isalnum() or len(resource_id) > 64:
        raise _missing(kind)
    _total, found = search(
        principal, kind, MultiDict({"_id": resource_id}), now=now, count=1, offset=0
    )
    if not found:
        raise _missing(kind)
    return found[0]


def _missing(kind: str) -> NotFound:
    return NotFound(_l("No %(kind)s with this id.", kind=kind), code=ErrorCode.RESOURCE_NOT_FOUND)


def _int_ids(ids: set[str] | None, kind: str) -> frozenset[int] | None:
    if ids is None:
        return None
    return frozenset(n for n in map(parse_id, ids) if n is not None)


def _department_id(args: Any, cat: reads.Catalogue) -> int | None | bool:
    """The department named by `specialty` (None: not asked; False: no such department)."""
    code = _one(args, "specialty")
    if code is None:
        return None
    department = cat.department_by_code(token_code(code))
    return department.id if department is not None else False


# ---- the catalogue --------------------------------------------------------------------------


def _catalogue(kind: str, args: Any, cat: reads.Catalogue) -> list[dict[str, Any]]:
    ids = _int_ids(_ids(args), kind)
    if kind == "Practitioner":
        rows = sorted(cat.clinicians.values(), key=lambda c: c.id)
        return [fhir.practitioner(c) for c in rows if ids is None or c.id in ids]
    if kind == "PractitionerRole":
        who = _one(args, "practitioner")
        clinician_id = reference_id(who, "Practitioner") if who else None
        department_id = _department_id(args, cat)
        return [
            fhir.practitioner_role(c, cat.departments.get(c.department_id))
            for c in sorted(cat.clinicians.values(), key=lambda c: c.id)
            if (ids is None or c.id in ids)
            and clinician_id in (None, c.id)
            and department_id in (None, c.department_id)
        ]
    if kind == "Location":
        return [
            fhir.location(p, cat.hospital)
            for p in sorted(cat.points.values(), key=lambda p: p.id)
            if ids is None or p.id in ids
        ]
    department_id = _department_id(args, cat)
    return [
        fhir.healthcare_service(d)
        for d in sorted(cat.departments.values(), key=lambda d: d.id)
        if (ids is None or d.id in ids) and department_id in (None, d.id)
    ]


def _schedules(
    principal: Principal, args: Any, cat: reads.Catalogue, *, now: datetime
) -> list[dict[str, Any]]:
    ids = _ids(args)
    actor = _one(args, "actor")
    department_id = _department_id(args, cat)
    wanted: tuple[str, int] | None = None
    if actor is not None:
        kind, _, number = actor.rpartition("/")
        if kind not in ("Practitioner", "PractitionerRole", "Location", "HealthcareService"):
            raise BadParameter(
                _l("actor must reference a Practitioner, Location or HealthcareService."),
                code=ErrorCode.INVALID_REFERENCE,
            )
        wanted = (kind, reference_id(number, kind))
    found = []
    for key in reads.schedule_keys(principal.hospital_id, now=now):
        dept, clinician, point = key
        if ids is not None and fhir.schedule_id(dept, clinician, point) not in ids:
            continue
        if department_id is not None and department_id != dept:
            continue
        if wanted is not None:
            wanted_kind, wanted_id = wanted
            matches = {
                "Practitioner": clinician,
                "PractitionerRole": clinician,
                "Location": point,
                "HealthcareService": dept,
            }[wanted_kind]
            if matches != wanted_id:
                continue
        resource = reads.schedule_resource(key, cat, now=now)
        if resource is not None:
            found.append(resource)
    return found


def _slots(
    principal: Principal, args: Any, cat: reads.Catalogue, *, now: datetime
) -> list[dict[str, Any]]:
    zone = rules.hospital_zone(principal.hospital_id)
    terms: dict[str, Any] = {"window": date_range(args.getlist("start"), zone)}
    ids = _ids(args)
    if ids is not None:
        numbers = _int_ids(ids, "Slot") or frozenset()
        if len(numbers) != 1:
            return []
        (slot_id,) = numbers
        starts_at = reads.slot_start(principal.hospital_id, slot_id)
        if starts_at is None:
            return []
        terms["slot_id"] = slot_id
        terms["window"] = terms["window"].meet(Range(starts_at, starts_at + timedelta(seconds=1)))
    schedule = _one(args, "schedule")
    if schedule is not None:
        key = fhir.parse_schedule_id(schedule.rpartition("/")[2])
        if key is None:
            raise BadParameter(
                _l("schedule must reference a Schedule of this server."),
                code=ErrorCode.INVALID_REFERENCE,
            )
        terms["schedule"] = schedule.rpartition("/")[2]
        terms["department_id"], terms["clinician_id"], _point = key
    status = _one(args, "status")
    if status is not None:
        statuses = {token_code(s) for s in status.split(",")}
        if not statuses <= SLOT_STATUSES:
            raise BadParameter(
                _l("status must be free, busy, busy-tentative or busy-unavailable."),
                code=ErrorCode.INVALID_PARAMETER,
            )
        terms["statuses"] = frozenset(statuses)
    fee = _one(args, "service-type")
    if fee is not None:
        try:
            terms["fee_class"] = FeeClass(token_code(fee))
        except ValueError:
            return []
    department_id = _department_id(args, cat)
    if department_id is False:
        return []
    if department_id is not None:
        if terms.get("department_id") not in (None, department_id):
            return []
        terms["department_id"] = department_id
    slots = reads.open_slots(principal.hospital_id, reads.SlotFilter(**terms), now=now)
    return [reads.slot_resource(s, cat, now=now) for s in slots]


# ---- patients and their appointments --------------------------------------------------------


def _appointments(
    principal: Principal, args: Any, *, now: datetime, count: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    zone = rules.hospital_zone(principal.hospital_id)
    visible = reads.visible_patient_ids(principal.account) if principal.is_patient else None
    terms: dict[str, Any] = {"window": date_range(args.getlist("date"), zone)}
    patient = _one(args, "patient")
    if patient is not None:
        patient_id = reference_id(patient, "Patient")
        if visible is not None and patient_id not in visible:
            return 0, []
        visible = frozenset({patient_id})
    terms["patient_ids"] = visible
    who = _one(args, "practitioner")
    if who is not None:
        terms["clinician_id"] = reference_id(who, "Practitioner")
    status = _one(args, "status")
    if status is not None:
        states: tuple[Any, ...] = ()
        for code in status.split(","):
            if token_code(code) not in fhir.STATES_FOR_STATUS:
                raise BadParameter(
                    _l("Unknown appointment status: %(status)s.", status=code[:30]),
                    code=ErrorCode.INVALID_PARAMETER,
                )
            states += fhir.STATES_FOR_STATUS[token_code(code)]
        terms["states"] = states
    ids = _int_ids(_ids(args), "Appointment")
    if ids is not None:
        if len(ids) != 1:
            return 0, []
        (terms["appointment_id"],) = ids
    total, rows = reads.appointments(
        principal.hospital_id, reads.AppointmentFilter(**terms), count=count, offset=offset
    )
    cat = reads.catalogue(principal.hospital_id)
    if not principal.is_patient and rows:
        record_staff_read(
            actor=principal.account,
            action="fhir.appointment.read",
            object_type="appointment",
            reads=[(str(r.id), r.patient_id) for r in rows],
        )
    found = []
    for row in rows:
        resource = reads.appointment_resource(row, cat, now=now)
        if status is None or resource["status"] in {token_code(s) for s in status.split(",")}:
            found.append(resource)
    return total, found


def _patients(principal: Principal, args: Any) -> list[dict[str, Any]]:
    ids = _int_ids(_ids(args), "Patient")
    identifier = _one(args, "identifier")
    if principal.is_patient:
        visible = reads.visible_patient_ids(principal.account)
        ids = visible if ids is None else visible & ids
    elif ids is None and identifier is None:
        raise BadParameter(
            _l("Search patients by _id or identifier."), code=ErrorCode.PATIENT_SEARCH_TOO_BROAD
        )
    rows = reads.patients(
        principal.hospital_id,
        frozenset(ids) if ids is not None else None,
        identifier=token_code(identifier) if identifier is not None else None,
    )
    if not principal.is_patient and rows:
        record_staff_read(
            actor=principal.account,
            action="fhir.patient.read",
            object_type="patient",
            reads=[(str(r.id), r.id) for r in rows],
        )
    return [fhir.patient(r) for r in rows]
