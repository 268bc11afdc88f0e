"""The demo's patient card: 李梅 carries a code for her father 李建华, who has no phone."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.cards import service
from hospital.db import db
from hospital.organisation.models import Hospital
from hospital.patients.models import FamilyLink, Patient, Relationship

DAUGHTER_PHONE = "13800000001"


def seed_card(hospital: Hospital, now: datetime) -> None:
    """Issue the father's card once; a second run (or a card the daughter reissued) adds nothing."""
    found = db.session.execute(
        sa.select(Account, Patient)
        .join(FamilyLink, FamilyLink.account_id == Account.id)
        .join(Patient, Patient.id == FamilyLink.patient_id)
        .where(
            Account.hospital_id == hospital.id,
            Account.phone == DAUGHTER_PHONE,
            FamilyLink.relationship == Relationship.PARENT,
        )
        .limit(1)
    ).first()
    if found is None:
        return
    daughter, father = found
    if service.active_card(father.id) is None:
        service.issue(daughter, father.id, now=now)
