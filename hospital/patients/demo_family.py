"""The demo's family that every package's demo builds on (hospital/demo.py seeds it).

李梅's account (13800000001) with her own profile and her father 李建华, who has no phone: the
billing demo insures him, the cards demo prints his card, the consult demo asks for him.
"""

from __future__ import annotations

import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.db import db
from hospital.patients.models import FamilyLink, Patient, Relationship

DAUGHTER_PHONE = "13800000001"


def daughter_and_father(hospital_id: int) -> tuple[Account, Patient] | None:
    """李梅's account and her father's record at the hospital; None before the demo is seeded."""
    found = db.session.execute(
        sa.select(Account, Patient)
        .join(FamilyLink, FamilyLink.account_id == Account.id)
        .join(Patient, Patient.id == FamilyLink.patient_id)
        .where(
            Account.hospital_id == hospital_id,
            Account.phone == DAUGHTER_PHONE,
            FamilyLink.relationship == Relationship.PARENT,
        )
        .limit(1)
    ).first()
    return (found[0], found[1]) if found is not None else None
