"""Facade kept while callers move to hospital.patients.services; import from those modules."""

from __future__ import annotations

from hospital.patients.services.adding import add_patient, request_consent_code
from hospital.patients.services.desk import link_existing_patient
from hospital.patients.services.links import (
    MAX_ID,
    family_limit,
    get_link,
    list_links,
    remove_link,
    update_link,
)
from hospital.patients.services.person import check_identity, check_phone
from hospital.patients.services.records import (
    IDENTITY_CONFIRMERS,
    assign_medical_record_number,
    confirm_identity,
    look_up_at_desk,
    patient_by_number,
)

__all__ = [
    "IDENTITY_CONFIRMERS",
    "MAX_ID",
    "add_patient",
    "assign_medical_record_number",
    "check_identity",
    "check_phone",
    "confirm_identity",
    "family_limit",
    "get_link",
    "link_existing_patient",
    "list_links",
    "look_up_at_desk",
    "patient_by_number",
    "remove_link",
    "request_consent_code",
    "update_link",
]
