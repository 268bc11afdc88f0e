"""The CapabilityStatement: exactly the resources, searches, operations and security supported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scheduling.fhir.resources import instant

IHE = "https://profiles.ihe.net/ITI/Scheduling/OperationDefinition"

# Resource type -> search parameter -> FHIR search parameter type. The API refuses any other.
SEARCHES: dict[str, dict[str, str]] = {
    "Schedule": {"_id": "token", "actor": "reference", "specialty": "token"},
    "Slot": {
        "_id": "token",
        "schedule": "reference",
        "start": "date",
        "status": "token",
        "service-type": "token",
        "specialty": "token",
    },
    "Appointment": {
        "_id": "token",
        "patient": "reference",
        "practitioner": "reference",
        "date": "date",
        "status": "token",
    },
    "Practitioner": {"_id": "token"},
    "PractitionerRole": {"_id": "token", "practitioner": "reference", "specialty": "token"},
    "Location": {"_id": "token"},
    "HealthcareService": {"_id": "token", "specialty": "token"},
    "Patient": {"_id": "token", "identifier": "token"},
}
# _include values each search type answers (the referenced resources join the page's Bundle).
INCLUDES: dict[str, tuple[str, ...]] = {
    "Appointment": ("Appointment:patient", "Appointment:practitioner", "Appointment:location"),
    "Slot": ("Slot:schedule",),
    "Schedule": ("Schedule:actor",),
    "PractitionerRole": ("PractitionerRole:practitioner",),
}
OPERATIONS = (
    ("find", "appointment-find"),
    ("hold", "appointment-hold"),
    ("book", "appointment-book"),
)


def capability_statement(*, base: str, now: datetime) -> dict[str, Any]:
    resources = []
    for kind, searches in SEARCHES.items():
        entry: dict[str, Any] = {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": type_} for name, type_ in sorted(searches.items())
            ],
        }
        if kind in INCLUDES:
            entry["searchInclude"] = list(INCLUDES[kind])
        if kind == "Appointment":
            entry["operation"] = [
                {"name": name, "definition": f"{IHE}/{definition}"}
                for name, definition in OPERATIONS
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(now),
        "kind": "instance",
        "name": "HospitalQueueScheduling",
        "title": "Hospital registration: FHIR R4 scheduling (IHE ITI-115..118)",
        "publisher": "hospital-queue",
        "implementation": {"description": "FHIR R4 scheduling facade", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "instantiates": [
            "http://hl7.org/fhir/smart-app-launch/CapabilityStatement/smart-app-launch"
        ],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Paging with _count and _offset (next links). Cancel with $book and an "
                    "Appointment of status cancelled. SMART Scheduling Links at $bulk-publish."
                ),
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": (
                        "Bearer tokens. Patients: POST /fhir/r4/auth/token while signed in "
                        "(patient/* on their own and linked family records). System clients: "
                        "tokens issued by an administrator with SMART v2 system/ scopes, e.g. "
                        "system/Slot.rs system/Appointment.cru."
                    ),
                },
                "resource": resources,
                "operation": [{"name": "bulk-publish", "definition": f"{base}/$bulk-publish"}],
            }
        ],
    }
