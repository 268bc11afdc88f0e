"""Turn consultations into the dictionaries the API schemas dump (masked names only)."""

from __future__ import annotations

from typing import Any

from consult.models import Consultation
from consult.services.offers import Offer
from hospital.db import db
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.web.views import localized


def offer_dict(offer: Offer) -> dict[str, Any]:
    return {
        "clinician_id": offer.clinician.id,
        "name": localized(offer.clinician, "name"),
        "department_id": offer.clinician.department_id,
        "is_offered": offer.is_offered,
        "open_to_all": offer.open_to_all,
        "fee_fen": offer.fee_fen,
        "answer_hours": offer.answer_hours,
        "daily_cap": offer.daily_cap,
        "saw_patient": offer.saw_patient,
    }


def consultation_dict(consultation: Consultation) -> dict[str, Any]:
    patient = db.session.get(Patient, consultation.patient_id)
    return {
        "id": consultation.id,
        "patient_id": consultation.patient_id,
        "masked_name": mask_name(patient.name) if patient is not None else "",
        "clinician_id": consultation.clinician_id,
        "department_id": consultation.department_id,
        "status": consultation.status,
        "question": consultation.question,
        "fee_fen": consultation.fee_fen,
        "order_id": consultation.order_id,
        "created_at": consultation.created_at,
        "pay_by": consultation.pay_by,
        "answer_due_at": consultation.answer_due_at,
        "answered_at": consultation.answered_at,
        "closes_at": consultation.closes_at,
        "decline_reason": consultation.decline_reason,
        "messages": [
            {
                "id": m.id,
                "from_clinician": m.from_clinician,
                "body": m.body,
                "created_at": m.created_at,
                "prescription_order_id": m.prescription_order_id,
                "lab_order_id": m.lab_order_id,
                "come_back": m.come_back,
            }
            for m in consultation.messages
        ],
    }
