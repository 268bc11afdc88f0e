"""Fixtures for report tests: a hospital with a patient, a family, lab staff and a lab system."""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from typing import Any

import pypdf
import pytest

from hospital.accounts.models import Account, Device, DeviceKind, Role
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import FamilyLink, Patient, Relationship
from reports.models import LabReport, ReportSource, TestType
from reports.release import ReleaseRule
from reports.results import IncomingReport, ResultItem
from reports.services import intake
from tests.support.auth import sign_in


@dataclass
class Ward:
    hospital: Hospital
    patient: Patient
    patient_account: Account
    family_account: Account  # linked to the patient, may see reports
    nosy_account: Account  # linked to the patient, may NOT see reports
    stranger: Account  # patient of their own, not linked
    stranger_patient: Patient
    lab: Account
    clinician: Account
    nurse: Account
    admin: Account
    device_token: str


def add_lab_device(hospital: Hospital, kind: DeviceKind = DeviceKind.LAB_SYSTEM) -> str:
    token = secrets.token_urlsafe(24)
    db.session.add(
        Device(
            hospital_id=hospital.id,
            kind=kind,
            name="LIS",
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
        )
    )
    # Committed (a savepoint here) so that a refused request's rollback keeps it.
    db.session.commit()
    return token


@pytest.fixture
def ward(hospital: Any, create_account: Any, create_patient: Any) -> Ward:
    patient_account = create_account(hospital, email="self@example.test")
    patient = create_patient(hospital, account=patient_account, phone="13800138000", name="张三明")
    family = create_account(hospital)
    db.session.add(
        FamilyLink(
            hospital_id=hospital.id,
            account_id=family.id,
            patient_id=patient.id,
            relationship=Relationship.CHILD,
            can_view_reports=True,
        )
    )
    nosy = create_account(hospital)
    db.session.add(
        FamilyLink(
            hospital_id=hospital.id,
            account_id=nosy.id,
            patient_id=patient.id,
            relationship=Relationship.OTHER,
            can_view_reports=False,
        )
    )
    stranger = create_account(hospital)
    stranger_patient = create_patient(hospital, account=stranger, name="李四")
    for code, rule, delay in (
        ("CBC", ReleaseRule.IMMEDIATE, 0),
        ("GLU", ReleaseRule.IMMEDIATE, 0),
        ("LFT", ReleaseRule.DELAYED, 60),
        ("HIV", ReleaseRule.CLINICIAN, 0),
    ):
        db.session.add(
            TestType(
                hospital_id=hospital.id,
                code=code,
                name_zh=code,
                name_en=code,
                release_rule=rule,
                release_delay_minutes=delay,
            )
        )
    db.session.flush()
    ward = Ward(
        hospital=hospital,
        patient=patient,
        patient_account=patient_account,
        family_account=family,
        nosy_account=nosy,
        stranger=stranger,
        stranger_patient=stranger_patient,
        lab=create_account(hospital, roles=(Role.LAB,)),
        clinician=create_account(hospital, roles=(Role.CLINICIAN,)),
        nurse=create_account(hospital, roles=(Role.NURSE,)),
        admin=create_account(hospital, roles=(Role.ADMIN,)),
        device_token=add_lab_device(hospital),
    )
    db.session.commit()
    return ward


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_pages(data: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


def sign_in_as(client: Any, account: Account) -> None:
    """Sign in, forgetting who the previous request was (the test shares one app context and g)."""
    from flask import g

    for key in ("_login_user", "device", "hospital"):
        g.pop(key, None)
    sign_in(client, account)


def receive_cbc(
    ward: Ward, items: list[ResultItem], *, patient: Patient | None = None
) -> LabReport:
    """A full blood count with these items for the patient (the ward's own by default), sent in
    by the lab staff, signed and concluded, and committed."""
    (report,) = intake.receive_results(
        ward.hospital,
        [
            IncomingReport(
                medical_record_number=(patient or ward.patient).medical_record_number,
                test_code="CBC",
                test_name="血常规",
                signed_by="李检验",
                conclusion="请结合临床",
                items=items,
            )
        ],
        source=ReportSource.STAFF,
        now=utcnow(),
        actor=ward.lab,
    )
    db.session.commit()
    return report
