"""Tell the other side of a consultation what happened, through the outbox."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from consult.models import Consultation
from hospital.accounts.models import Account
from hospital.db import db
from hospital.money import format_fen
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify, notify_patient
from hospital.organisation.models import Clinician, Hospital
from hospital.patients.access import Permission
from hospital.patients.models import Patient
from hospital.zones import zone_for

MESSAGE_TEMPLATES = {
    "consult.new_question": MessageTemplate(
        subject=_l("New online question"),
        body=_l("{hospital}: a patient asked you online (no. {number}). Answer by {due}."),
    ),
    "consult.answered": MessageTemplate(
        subject=_l("The doctor answered your question"),
        body=_l("{hospital}: {clinician} answered consultation no. {number}. Read it: {link}"),
    ),
    "consult.refunded": MessageTemplate(
        subject=_l("Your question was not answered in time: refunded"),
        body=_l(
            "{hospital}: consultation no. {number} was not answered in the promised time. "
            "The fee of {amount} is refunded in full."
        ),
    ),
    "consult.declined": MessageTemplate(
        subject=_l("The doctor declined your question: refunded"),
        body=_l(
            "{hospital}: {clinician} declined consultation no. {number} ({reason}). "
            "The fee of {amount} is refunded in full."
        ),
    ),
    "consult.follow_up": MessageTemplate(
        subject=_l("A patient wrote again"),
        body=_l("{hospital}: the patient of consultation no. {number} wrote again."),
    ),
}


def _context(consultation: Consultation) -> dict[str, str]:
    hospital = db.session.get(Hospital, consultation.hospital_id)
    clinician = db.session.get(Clinician, consultation.clinician_id)
    return {
        "hospital": hospital.name_zh if hospital is not None else "",
        "clinician": clinician.name_zh if clinician is not None else "",
        "number": str(consultation.id),
        "amount": format_fen(consultation.fee_fen),
    }


def _tell_patient(
    consultation: Consultation, template: str, *, now: datetime, **extra: str
) -> None:
    patient = db.session.get(Patient, consultation.patient_id)
    if patient is None:
        return
    notify_patient(
        patient,
        template,
        {**_context(consultation), **extra},
        now=now,
        dedupe_key=f"consult:{template}:{consultation.id}:{len(consultation.messages)}",
        family_permission=Permission.BOOK,
    )


def _tell_clinician(
    consultation: Consultation, template: str, *, now: datetime, **extra: str
) -> None:
    clinician = db.session.get(Clinician, consultation.clinician_id)
    account = (
        db.session.get(Account, clinician.account_id)
        if clinician and clinician.account_id
        else None
    )
    if account is None or not (account.phone or account.email):
        return  # the staff home's inbox count tells them
    notify(
        hospital_id=consultation.hospital_id,
        template=template,
        context={**_context(consultation), **extra},
        language=account.language.value,
        phone=account.phone,
        email=account.email,
        dedupe_key=f"consult:{template}:{consultation.id}:{len(consultation.messages)}",
        now=now,
    )


def tell_clinician_new_question(consultation: Consultation, *, now: datetime) -> None:
    due = consultation.answer_due_at
    hospital = db.session.get(Hospital, consultation.hospital_id)
    local = due.astimezone(zone_for(hospital)) if due is not None and hospital else None
    _tell_clinician(
        consultation,
        "consult.new_question",
        now=now,
        due=local.strftime("%m-%d %H:%M") if local is not None else "",
    )


def tell_clinician_follow_up(consultation: Consultation, *, now: datetime) -> None:
    _tell_clinician(consultation, "consult.follow_up", now=now)


def tell_patient_answered(consultation: Consultation, *, link: str, now: datetime) -> None:
    _tell_patient(consultation, "consult.answered", now=now, link=link)


def tell_patient_refunded(consultation: Consultation, *, now: datetime) -> None:
    _tell_patient(consultation, "consult.refunded", now=now)


def tell_patient_declined(consultation: Consultation, *, now: datetime) -> None:
    _tell_patient(consultation, "consult.declined", now=now, reason=consultation.decline_reason)
