"""A hospital where a father was seen by a doctor lately, his daughter acts for him, and the
doctor's consultations are on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from consult.models import ConsultSetting
from hospital.accounts.models import Account, Role
from hospital.billing.models import Order
from hospital.db import db
from hospital.organisation.models import Clinician, Hospital
from hospital.patients.models import Patient, Relationship
from scheduling.models import Appointment, AppointmentState, FeeClass
from tests.support import factories
from tests.support.scheduling_factories import create_clinic_session, slots_of


@dataclass
class ConsultWorld:
    hospital: Hospital
    doctor: Clinician
    doctor_account: Account
    other_doctor: Clinician
    father: Patient
    father_account: Account
    daughter: Account
    stranger: Account
    now: datetime


def seen_by(
    clinician: Clinician, patient: Patient, account: Account, *, days_ago: int, now: datetime
) -> Appointment:
    """A completed appointment of the patient with the clinician some days ago."""
    from hospital.visits.services import hospital_day

    day = hospital_day(clinician.hospital_id, now) - timedelta(days=days_ago)
    session = create_clinic_session(clinician, local_date=day, capacity=1)
    slot = slots_of(session)[0]
    appointment = Appointment(
        hospital_id=clinician.hospital_id,
        slot_id=slot.id,
        session_id=session.id,
        local_date=day,
        patient_id=patient.id,
        account_id=account.id,
        state=AppointmentState.COMPLETED,
        fee_class=FeeClass.GENERAL,
        fee_fen=0,
    )
    db.session.add(appointment)
    db.session.flush()
    return appointment


def make_world(now: datetime) -> ConsultWorld:
    hospital = factories.create_hospital()
    department = factories.create_department(hospital)
    doctor_account = factories.create_account(hospital, roles=(Role.CLINICIAN,))
    doctor = factories.create_clinician(department, account_id=doctor_account.id)
    other_doctor = factories.create_clinician(department, name_zh="李医生", name_en="Dr Li")
    father_account = factories.create_account(hospital)
    father = factories.create_patient(hospital, account=father_account, phone=father_account.phone)
    daughter = factories.create_account(hospital)
    factories_link(hospital, daughter, father)
    stranger = factories.create_account(hospital)
    factories.create_patient(hospital, account=stranger, name="赵六")
    seen_by(doctor, father, father_account, days_ago=5, now=now)
    return ConsultWorld(
        hospital,
        doctor,
        doctor_account,
        other_doctor,
        father,
        father_account,
        daughter,
        stranger,
        now,
    )


def factories_link(hospital: Hospital, account: Account, patient: Patient, **rights: Any) -> None:
    from hospital.patients.models import FamilyLink

    db.session.add(
        FamilyLink(
            hospital_id=hospital.id,
            account_id=account.id,
            patient_id=patient.id,
            relationship=Relationship.PARENT,
            **rights,
        )
    )
    db.session.flush()


def offer(clinician: Clinician, **values: Any) -> ConsultSetting:
    row = ConsultSetting(
        hospital_id=clinician.hospital_id,
        clinician_id=clinician.id,
        is_offered=values.pop("is_offered", True),
        open_to_all=values.pop("open_to_all", False),
        fee_fen=values.pop("fee_fen", 3000),
        answer_hours=values.pop("answer_hours", 12),
        daily_cap=values.pop("daily_cap", 10),
    )
    db.session.add(row)
    db.session.flush()
    return row


def fee_order(order_id: int) -> Order:
    order = db.session.scalar(sa.select(Order).where(Order.id == order_id))
    assert order is not None
    return order
