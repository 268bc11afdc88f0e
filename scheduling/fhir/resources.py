"""Map scheduling and organisation rows to FHIR R4 resources (plain dicts, JSON-ready)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask_babel import get_locale

from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.models import Patient
from hospital.web.id_fields import parse_id
from scheduling.models import Appointment, AppointmentState, FeeClass

SYSTEM = "urn:hospital-queue"
DEPARTMENT_SYSTEM = f"{SYSTEM}:department"
FEE_CLASS_SYSTEM = f"{SYSTEM}:fee-class"
TITLE_SYSTEM = f"{SYSTEM}:clinician-title"
MRN_SYSTEM = f"{SYSTEM}:medical-record-number"
ERROR_SYSTEM = f"{SYSTEM}:error-code"
HOLD_EXPIRES = f"{SYSTEM}:StructureDefinition/hold-expires"
FEE_EXTENSION = f"{SYSTEM}:StructureDefinition/registration-fee"
SMART = "http://fhir-registry.smarthealthit.org/StructureDefinition"
SLOT_CAPACITY = f"{SMART}/slot-capacity"
BOOKING_DEEP_LINK = f"{SMART}/booking-deep-link"
BOOKING_PHONE = f"{SMART}/booking-phone"

FEE_CLASS_NAMES = {
    FeeClass.GENERAL: ("普通号", "General"),
    FeeClass.EXPERT: ("专家号", "Expert"),
    FeeClass.SPECIAL_NEEDS: ("特需号", "Special needs"),
}
APPOINTMENT_STATUS = {
    AppointmentState.HELD: "pending",
    AppointmentState.BOOKED: "booked",
    AppointmentState.CHECKED_IN: "arrived",
    AppointmentState.COMPLETED: "fulfilled",
    AppointmentState.CANCELLED: "cancelled",
    AppointmentState.EXPIRED: "cancelled",
    AppointmentState.NO_SHOW: "noshow",
}
STATES_FOR_STATUS: dict[str, tuple[AppointmentState, ...]] = {}
for _state, _status in APPOINTMENT_STATUS.items():
    STATES_FOR_STATUS[_status] = (*STATES_FOR_STATUS.get(_status, ()), _state)


def english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


def pick(zh: str, en: str) -> str:
    return (en or zh) if english() else (zh or en)


def instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


def schedule_id(department_id: int, clinician_id: int | None, service_point_id: int | None) -> str:
    """One Schedule per clinician (or, without one, per room) and service (department)."""
    if clinician_id is not None:
        return f"d{department_id}-c{clinician_id}"
    return f"d{department_id}-p{service_point_id or 0}"


def parse_schedule_id(value: str) -> tuple[int, int | None, int | None] | None:
    try:
        dept, who = value.split("-", 1)
        if not dept.startswith("d") or who[:1] not in ("c", "p"):
            return None
    except ValueError:
        return None
    # "p0": a department's schedule without a room (see schedule_id).
    department, number = parse_id(dept[1:]), 0 if who == "p0" else parse_id(who[1:])
    if department is None or number is None:
        return None
    if who[0] == "c":
        return department, number, None
    return department, None, number


def specialty(department: Department | None) -> list[dict[str, Any]]:
    if department is None:
        return []
    return [
        {
            "coding": [
                {
                    "system": DEPARTMENT_SYSTEM,
                    "code": department.code,
                    "display": pick(department.name_zh, department.name_en),
                }
            ]
        }
    ]


def service_type(fee_class: FeeClass) -> list[dict[str, Any]]:
    zh, en = FEE_CLASS_NAMES[fee_class]
    return [
        {"coding": [{"system": FEE_CLASS_SYSTEM, "code": fee_class.value, "display": pick(zh, en)}]}
    ]


def outcome(severity: str, code: str, machine_code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": code,
                "details": {
                    "coding": [{"system": ERROR_SYSTEM, "code": machine_code}],
                    "text": text,
                },
                "diagnostics": text,
            }
        ],
    }


def practitioner(clinician: Clinician) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": str(clinician.id),
        "active": clinician.is_active,
        "name": [
            {"text": clinician.name_zh, "extension": _lang("zh")},
            {"text": clinician.name_en, "extension": _lang("en")},
        ],
        "qualification": [
            {"code": {"coding": [{"system": TITLE_SYSTEM, "code": clinician.title.value}]}}
        ],
    }


def _lang(code: str) -> list[dict[str, Any]]:
    return [{"url": "http://hl7.org/fhir/StructureDefinition/language", "valueCode": code}]


def practitioner_role(clinician: Clinician, department: Department | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(clinician.id),
        "active": clinician.is_active,
        "practitioner": {
            "reference": f"Practitioner/{clinician.id}",
            "display": pick(clinician.name_zh, clinician.name_en),
        },
        "code": [{"coding": [{"system": TITLE_SYSTEM, "code": clinician.title.value}]}],
        "specialty": specialty(department),
        "healthcareService": [{"reference": f"HealthcareService/{clinician.department_id}"}],
    }
    note = pick(clinician.specialty_zh, clinician.specialty_en)
    if note:
        resource["availabilityExceptions"] = note
    return resource


def location(point: ServicePoint, hospital: Hospital) -> dict[str, Any]:
    lines = [part for part in (point.building, point.floor, point.room) if part]
    address: dict[str, Any] = {"text": pick(hospital.address_zh, hospital.address_en) or None}
    if lines:
        address["line"] = lines
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(point.id),
        "status": "active" if point.is_active else "inactive",
        "name": pick(point.name_zh, point.name_en),
        "alias": [point.name_en if not english() else point.name_zh],
        "mode": "instance",
        "physicalType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "code": "ro",
                }
            ]
        },
        "address": {k: v for k, v in address.items() if v},
    }
    directions = pick(point.directions_zh, point.directions_en)
    if directions:
        resource["description"] = directions
    if hospital.phone:
        resource["telecom"] = [{"system": "phone", "value": hospital.phone}]
    if not resource["address"]:
        del resource["address"]
    return resource


def healthcare_service(department: Department) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": str(department.id),
        "active": department.is_active,
        "name": pick(department.name_zh, department.name_en),
        "specialty": specialty(department),
    }
    comment = pick(department.description_zh, department.description_en)
    if comment:
        resource["comment"] = comment
    return resource


def patient(row: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(row.id),
        "name": [{"text": row.name}],
        "gender": {"female": "female", "male": "male"}.get(row.sex.value, "other"),
        "birthDate": row.birth_date.isoformat(),
    }
    if row.medical_record_number:
        resource["identifier"] = [{"system": MRN_SYSTEM, "value": row.medical_record_number}]
    return resource


def schedule(
    department: Department,
    clinician: Clinician | None,
    service_point_id: int | None,
    *,
    horizon: tuple[datetime, datetime],
) -> dict[str, Any]:
    actors: list[dict[str, Any]] = []
    if clinician is not None:
        actors.append(
            {
                "reference": f"Practitioner/{clinician.id}",
                "display": pick(clinician.name_zh, clinician.name_en),
            }
        )
        actors.append({"reference": f"PractitionerRole/{clinician.id}"})
    if service_point_id is not None:
        actors.append({"reference": f"Location/{service_point_id}"})
    actors.append(
        {
            "reference": f"HealthcareService/{department.id}",
            "display": pick(department.name_zh, department.name_en),
        }
    )
    return {
        "resourceType": "Schedule",
        "id": schedule_id(department.id, clinician.id if clinician else None, service_point_id),
        "active": clinician.is_active if clinician is not None else True,
        "specialty": specialty(department),
        "actor": actors,
        "planningHorizon": {"start": instant(horizon[0]), "end": instant(horizon[1])},
    }


def appointment(
    row: Appointment,
    *,
    status: str,
    clinician_id: int | None,
    department: Department | None,
    service_point_id: int | None,
) -> dict[str, Any]:
    slot = row.slot
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(row.id),
        "status": status,
        "serviceType": service_type(row.fee_class),
        "specialty": specialty(department),
        "start": instant(slot.starts_at),
        "end": instant(slot.ends_at),
        "created": instant(row.created_at),
        "slot": [{"reference": f"Slot/{row.slot_id}"}],
        "participant": participants(row.patient_id, clinician_id, service_point_id),
        "extension": [fee(row.fee_fen)],
    }
    if status == "pending" and row.hold_expires_at is not None:
        resource["extension"].append(
            {"url": HOLD_EXPIRES, "valueInstant": instant(row.hold_expires_at)}
        )
    if status == "cancelled":
        reason = "hold-lapsed" if row.state is AppointmentState.EXPIRED else "cancelled"
        resource["cancelationReason"] = {"text": row.cancel_reason or reason}
    return resource


def fee(fen: int) -> dict[str, Any]:
    return {"url": FEE_EXTENSION, "valueMoney": {"value": fen / 100, "currency": "CNY"}}


def participants(
    patient_id: int | None, clinician_id: int | None, service_point_id: int | None
) -> list[dict[str, Any]]:
    people = []
    if patient_id is not None:
        people.append({"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"})
    if clinician_id is not None:
        people.append(
            {"actor": {"reference": f"Practitioner/{clinician_id}"}, "status": "accepted"}
        )
    if service_point_id is not None:
        people.append(
            {"actor": {"reference": f"Location/{service_point_id}"}, "status": "accepted"}
        )
    return people


def bundle(
    entries: list[dict[str, Any]],
    *,
    base: str,
    total: int | None = None,
    links: dict[str, str] | None = None,
    bundle_type: str = "searchset",
    included: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if total is not None:
        result["total"] = total
    if links:
        result["link"] = [{"relation": rel, "url": url} for rel, url in links.items()]
    result["entry"] = []
    extra = [(resource, "include") for resource in included or []]
    for resource, mode in [(r, "match") for r in entries] + extra:
        entry: dict[str, Any] = {"resource": resource}
        if resource.get("id"):
            entry["fullUrl"] = f"{base}/{resource['resourceType']}/{resource['id']}"
        if bundle_type == "searchset":
            if resource["resourceType"] == "OperationOutcome":
                mode = "outcome"
            entry["search"] = {"mode": mode}
        result["entry"].append(entry)
    return result


def bundle_bytes(
    pieces: list[bytes],
    *,
    base: str,
    total: int | None = None,
    links: dict[str, str] | None = None,
) -> bytes:
    """The UTF-8 JSON text of `bundle` (a searchset) whose entries are already serialised.

    `pieces` joined are the entries' text separated by commas; the list is used up.
    """
    text = json.dumps(bundle([], base=base, total=total, links=links), ensure_ascii=False)
    assert text.endswith('"entry": []}')
    pieces.insert(0, text[:-2].encode())
    pieces.append(b"]}")
    return b"".join(pieces)
