"""Demo fee schedule: the registration fees of the three fee classes and a few orderable items.

A booked appointment carries its session's own fee; these prices are what the fee schedule
shows and what a walk-in ticket at a kiosk costs (the general class by default).
"""

from __future__ import annotations

import sqlalchemy as sa

from hospital.billing.models import FeeItem, ItemCategory, RegistrationFee
from hospital.db import db
from hospital.organisation.models import Hospital

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
