"""A hospital with a clinic on the real clock, a patient token and system-client tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from hospital.accounts.models import Account, Role
from hospital.accounts.sessions import open_session
from hospital.db import db, utcnow
from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.models import Patient
from scheduling.fhir.auth import create_client
from scheduling.models import ClinicSession, Slot
from tests.support import factories
from tests.support.scheduling_factories import create_clinic_session, slots_of

BASE = "/fhir/r4"


def validate(resource: dict[str, Any]) -> Any:
    """Parse the resource with the R4(B) models of fhir.resources (raises when invalid)."""
    model = get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    if resource["resourceType"] == "Bundle":
        for entry in resource.get("entry", []):
            validate(entry["resource"])
    return parsed


@dataclass
class Fhir:
    hospital: Hospital
    department: Department
    clinician: Clinician
    point: ServicePoint
    session: ClinicSession
    slots: list[Slot]
    account: Account
    patient: Patient
    patient_token: str
    system_token: str
    readonly_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.patient_token}"}


def upcoming(clinician: Clinician, **kw: Any) -> ClinicSession:
    """A released session the day after tomorrow (the API runs on the real clock)."""
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    kw.setdefault("release_at", utcnow() - timedelta(hours=1))
    return create_clinic_session(clinician, local_date=day, **kw)


def build_fhir_world(n_patients: int = 0) -> Fhir:
    now = utcnow()
    hospital = factories.create_hospital(phone="021-12345678")
    department = factories.create_department(hospital)
    clinician = factories.create_clinician(department)
    point = factories.create_service_point(hospital, department_id=department.id)
    session = upcoming(clinician, capacity=2, service_point_id=point.id)
    account = factories.create_account(hospital)
    patient = factories.create_patient(hospital, account=account)
    _client, system_token = create_client(
        hospital,
        name="Regional platform",
        scopes="system/Slot.rs system/Appointment.cruds system/Patient.rs system/*.rs",
        now=now,
    )
    _client, readonly_token = create_client(
        hospital, name="Aggregator", scopes="system/Slot.rs system/Schedule.rs", now=now
    )
    world = Fhir(
        hospital=hospital,
        department=department,
        clinician=clinician,
        point=point,
        session=session,
        slots=slots_of(session),
        account=account,
        patient=patient,
        patient_token=open_session(account, now=now),
        system_token=system_token,
        readonly_token=readonly_token,
    )
    db.session.commit()
    return world


@pytest.fixture
def world(db_session: Any) -> Fhir:
    return build_fhir_world()


@pytest.fixture
def staff_roles() -> tuple[Role, ...]:
    return (Role.REGISTRAR,)
