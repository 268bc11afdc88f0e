"""The demo's consultations: two doctors take online questions, and the daughter 李梅 asked her
father's doctor about his report and got an answer."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from consult.models import Consultation, ConsultMessage, ConsultSetting, ConsultStatus
from hospital.db import db
from hospital.organisation.models import Clinician, Hospital
from hospital.patients.demo_family import daughter_and_father


def _offering(hospital: Hospital) -> list[Clinician]:
    """The doctor with a sign-in account first, then the next clinician: the two who offer."""
    clinicians = list(
        db.session.scalars(
            sa.select(Clinician)
            .where(Clinician.hospital_id == hospital.id, Clinician.is_active.is_(True))
            .order_by(Clinician.account_id.is_(None), Clinician.id)
        )
    )
    return clinicians[:2]


def seed_consultations(hospital: Hospital, *, now: datetime) -> None:
    """Create what is missing; a second run adds nothing."""
    offering = _offering(hospital)
    for clinician, fee_fen, hours in zip(offering, (3000, 2000), (12, 24), strict=False):
        if db.session.scalar(
            sa.select(ConsultSetting.id).where(ConsultSetting.clinician_id == clinician.id)
        ):
            continue
        db.session.add(
            ConsultSetting(
                hospital_id=hospital.id,
                clinician_id=clinician.id,
                is_offered=True,
                open_to_all=True,
                fee_fen=fee_fen,
                answer_hours=hours,
                daily_cap=20,
                updated_at=now,
            )
        )
    db.session.flush()
    if not offering or offering[0].account_id is None:
        return
    doctor = offering[0]
    if db.session.scalar(sa.select(Consultation.id).where(Consultation.hospital_id == hospital.id)):
        return
    found = daughter_and_father(hospital.id)
    if found is None:
        return
    daughter, father = found
    asked = now - timedelta(days=1)
    consultation = Consultation(
        hospital_id=hospital.id,
        patient_id=father.id,
        clinician_id=doctor.id,
        department_id=doctor.department_id,
        asked_by_account_id=daughter.id,
        status=ConsultStatus.ANSWERED,
        question="爸爸的化验单上谷丙转氨酶偏高（68 U/L），需要吃药还是复查？",
        fee_fen=0,
        answer_hours=12,
        created_at=asked,
        paid_at=asked,
        answer_due_at=asked + timedelta(hours=12),
        answered_at=asked + timedelta(hours=3),
        closes_at=now + timedelta(hours=24),
    )
    db.session.add(consultation)
    db.session.flush()
    db.session.add(
        ConsultMessage(
            hospital_id=hospital.id,
            consultation_id=consultation.id,
            author_account_id=doctor.account_id,
            from_clinician=True,
            body="轻度升高，先不用吃药。少饮酒、清淡饮食，两周后空腹复查肝功能；"
            "如有乏力、皮肤发黄请及时来院。",
            come_back=True,
            created_at=asked + timedelta(hours=3),
        )
    )
    db.session.flush()
