"""Demo fee schedule: the registration fees of the three fee classes and a few orderable items.

A booked appointment carries its session's own fee; these prices are what the fee schedule
shows and what a walk-in ticket at a kiosk costs (the general class by default).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from hospital.accounts.models import Account, AccountRole, Role
from hospital.billing.models import FeeItem, ItemCategory, RegistrationFee, SandboxInsured
from hospital.billing.services import family_pool, insured
from hospital.db import db
from hospital.organisation.models import Hospital
from hospital.patients.demo_family import DAUGHTER_PHONE, daughter_and_father
from hospital.patients.models import FamilyLink, Patient, Relationship

REGISTRATION_FEES = (
    ("general", "普通号挂号费", "General registration fee", 1000),
    ("expert", "专家号挂号费", "Specialist registration fee", 3000),
    ("special_needs", "特需号挂号费", "Special-needs clinic registration fee", 10000),
)

# Items a clinician orders from the console; paying one issues the number at its station.
FEE_ITEMS = (
    ("LAB-CBC", "血常规", "Complete blood count", ItemCategory.LAB_TEST, 3000),
    ("LAB-GLU", "空腹血糖", "Fasting blood glucose", ItemCategory.LAB_TEST, 1500),
    ("MED-AMX", "阿莫西林胶囊", "Amoxicillin capsules", ItemCategory.MEDICINE, 5600),
    ("IMG-CXR", "胸部X线", "Chest X-ray", ItemCategory.IMAGING, 8000),
)


def seed_fees(hospital: Hospital) -> None:
    """Create the fee classes the hospital does not price yet."""
    priced = set(
        db.session.scalars(
            sa.select(RegistrationFee.fee_class).where(RegistrationFee.hospital_id == hospital.id)
        )
    )
    for fee_class, name_zh, name_en, amount_fen in REGISTRATION_FEES:
        if fee_class not in priced:
            db.session.add(
                RegistrationFee(
                    hospital_id=hospital.id,
                    fee_class=fee_class,
                    name_zh=name_zh,
                    name_en=name_en,
                    amount_fen=amount_fen,
                )
            )
    coded = set(
        db.session.scalars(sa.select(FeeItem.code).where(FeeItem.hospital_id == hospital.id))
    )
    for code, item_zh, item_en, category, price_fen in FEE_ITEMS:
        if code not in coded:
            db.session.add(
                FeeItem(
                    hospital_id=hospital.id,
                    code=code,
                    name_zh=item_zh,
                    name_en=item_en,
                    category=category,
                    price_fen=price_fen,
                )
            )
    db.session.flush()


FATHER_BALANCE_FEN = 2000  # ¥20 left in his own account: his daughter's shared account pays more


def seed_insurance(hospital: Hospital, *, now: datetime) -> None:
    """李建华 (no phone) is insured, activated at the desk; his daughter 李梅 shows his code and
    shares her own account with him (家庭共济: ¥100 a payment, ¥500 a month). Once only."""
    found = daughter_and_father(hospital.id)
    registrar = db.session.scalar(
        sa.select(Account)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .where(Account.hospital_id == hospital.id, AccountRole.role == Role.REGISTRAR)
        .order_by(Account.id)
        .limit(1)
    )
    own = db.session.scalar(
        sa.select(Patient)
        .join(FamilyLink, FamilyLink.patient_id == Patient.id)
        .join(Account, Account.id == FamilyLink.account_id)
        .where(Account.phone == DAUGHTER_PHONE, FamilyLink.relationship == Relationship.SELF)
    )
    if found is None or registrar is None or own is None:
        return
    daughter, father = found
    if insured.active_voucher(father.id) is None:
        voucher = insured.activate(
            actor=registrar, patient_id=father.id, consent_code=None, now=now
        )
        db.session.execute(
            sa.update(SandboxInsured)
            .where(SandboxInsured.insured_ref == voucher.insured_ref)
            .values(balance_fen=FATHER_BALANCE_FEN)
        )
    if insured.active_voucher(own.id) is None:
        insured.activate(actor=daughter, patient_id=own.id, consent_code=None, now=now)
    if not family_pool.grants_given(actor=daughter, now=now):
        family_pool.grant(
            actor=daughter,
            beneficiary_patient_id=father.id,
            per_payment_limit_fen=10000,
            monthly_limit_fen=50000,
            now=now,
        )
