"""Patient cards: issue, revoke and reissue for a family member; accept one at a kiosk or desk."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.cards.models import PatientCard
from hospital.db import db
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify_patient
from hospital.patients.access import Permission, patients_acting_for, require_patient_access
from hospital.patients.models import Patient

# No 0/O, 1/I: the code is read aloud and typed from paper too. 16 letters: 80 bits.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PREFIX = "HC"
CODE = re.compile(rf"^{PREFIX}[{ALPHABET}]{{16}}$")

CARD_USED_TEMPLATE = "cards.used"
MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    CARD_USED_TEMPLATE: MessageTemplate(
        subject=_l("A patient card was used"),
        body=_l(
            "{name}'s patient card was used at {place} at {time}. Not you? Revoke it in the app."
        ),
    ),
}


def new_code() -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(16))


def normalise(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw or "").upper()


def looks_like_card(raw: str) -> bool:
    return bool(CODE.match(normalise(raw)))


def spaced(code: str) -> str:
    """HC-ABCD-EFGH-JKLM-NPQR: easier to read from a card."""
    body = code[len(PREFIX) :]
    return "-".join([PREFIX, *(body[i : i + 4] for i in range(0, len(body), 4))])


def people(account: Account) -> list[Patient]:
    """Whom this account may carry a code for: those it may book for."""
    return patients_acting_for(account, Permission.BOOK)


def active_card(patient_id: int) -> PatientCard | None:
    return db.session.scalar(
        sa.select(PatientCard).where(
            PatientCard.patient_id == patient_id, PatientCard.revoked_at.is_(None)
        )
    )


def _revoke_current(patient_id: int, *, now: datetime) -> bool:
    card = active_card(patient_id)
    if card is None:
        return False
    card.revoked_at = now
    db.session.flush()
    return True


def issue(account: Account, patient_id: int, *, now: datetime) -> PatientCard:
    """A new card for the patient; the one before (lost, say) stops working at once."""
    patient = require_patient_access(account, patient_id, Permission.BOOK, action="card.issue")
    replaced = _revoke_current(patient.id, now=now)
    card = PatientCard(
        hospital_id=patient.hospital_id,
        patient_id=patient.id,
        code=new_code(),
        issued_by_account_id=account.id,
        issued_at=now,
    )
    db.session.add(card)
    db.session.flush()
    record(
        action="card.reissued" if replaced else "card.issued",
        actor=account,
        patient_id=patient.id,
        hospital_id=patient.hospital_id,
        object_type="patient_card",
        object_id=str(card.id),
    )
    return card


def revoke(account: Account, patient_id: int, *, now: datetime) -> bool:
    """Stop the patient's card from working; False when there was none."""
    patient = require_patient_access(account, patient_id, Permission.BOOK, action="card.revoke")
    revoked = _revoke_current(patient.id, now=now)
    if revoked:
        record(
            action="card.revoked",
            actor=account,
            patient_id=patient.id,
            hospital_id=patient.hospital_id,
            object_type="patient_card",
        )
    return revoked


def patient_for_card(
    hospital_id: int, raw: str, *, place: str, when: str, now: datetime
) -> Patient | None:
    """The patient of an active card of this hospital, and the family told it was used."""
    code = normalise(raw)
    if not CODE.match(code):
        return None
    card = db.session.scalar(
        sa.select(PatientCard).where(
            PatientCard.code == code,
            PatientCard.hospital_id == hospital_id,
            PatientCard.revoked_at.is_(None),
        )
    )
    if card is None:
        return None
    patient = db.session.get(Patient, card.patient_id)
    if patient is None:
        return None
    card.last_used_at = now
    db.session.flush()
    record(
        action="card.used",
        patient_id=patient.id,
        hospital_id=hospital_id,
        object_type="patient_card",
        object_id=str(card.id),
        detail={"place": place},
    )
    notify_patient(
        patient,
        CARD_USED_TEMPLATE,
        {"name": patient.name, "place": place, "time": when},
        now=now,
        family_permission=Permission.BOOK,
    )
    return patient
