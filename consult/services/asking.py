"""Ask a clinician a question for a patient, and open it once its fee is paid."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from consult.models import Consultation, ConsultStatus
from consult.red_flags import red_flags_in
from consult.services import notices
from consult.services.offers import eligible_offer
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.billing.references import OrderKind, OrderRef
from hospital.billing.services import orders as billing_orders
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.models import FamilyLink


class EmergencyWarning(InvalidInput):
    """The question names an emergency: the asker must read the warning before sending it."""

    code = ErrorCode.CONSULT_EMERGENCY_WARNING


def ask(
    *,
    actor: Account,
    patient_id: int,
    clinician_id: int,
    question: str,
    emergency_acknowledged: bool,
    now: datetime,
) -> Consultation:
    """Open a consultation; it waits for its fee (billing's order) unless the clinician asks none."""
    patient = require_patient_access(actor, patient_id, Permission.BOOK, action="consult.ask")
    require_patient_access(actor, patient_id, Permission.PAY, action="consult.ask")
    # Staff rights are not a family's: only the patient's own and family accounts ask.
    linked = db.session.scalar(
        sa.select(FamilyLink.id).where(
            FamilyLink.account_id == actor.id, FamilyLink.patient_id == patient.id
        )
    )
    if linked is None:
        record(
            action="consult.ask",
            outcome="denied",
            actor=actor,
            object_type="patient",
            object_id=str(patient_id),
            patient_id=patient.id,
        )
        raise InvalidInput(
            _l("Only the patient's own or family accounts can ask a doctor online."),
            code=ErrorCode.CONSULT_CLINICIAN_UNAVAILABLE,
        )
    text = question.strip()
    if not text:
        raise InvalidInput(_l("Write your question."), code=ErrorCode.INVALID_INPUT)
    flags = red_flags_in(text)
    if flags and not emergency_acknowledged:
        raise EmergencyWarning(
            _l(
                "This may be an emergency: call 120 or go to the emergency department now. "
                "Online consultations are not for emergencies."
            ),
            details={"red_flags": [{"zh": f.label_zh, "en": f.label_en} for f in flags]},
        )
    offer = eligible_offer(patient.hospital_id, patient.id, clinician_id, now=now)
    pay_minutes = int(current_app.config["CONSULT_PAY_MINUTES"])
    consultation = Consultation(
        hospital_id=patient.hospital_id,
        patient_id=patient.id,
        clinician_id=offer.clinician.id,
        department_id=offer.clinician.department_id,
        asked_by_account_id=actor.id,
        status=ConsultStatus.AWAITING_PAYMENT,
        question=text,
        emergency_acknowledged=bool(flags),
        fee_fen=offer.fee_fen,
        answer_hours=offer.answer_hours,
        created_at=now,
        pay_by=now + timedelta(minutes=pay_minutes),
    )
    db.session.add(consultation)
    db.session.flush()
    order = billing_orders.create_consultation_order(
        hospital_id=consultation.hospital_id,
        patient_id=patient.id,
        consultation_id=consultation.id,
        fee_fen=offer.fee_fen,
        expires_at=consultation.pay_by,
        account_id=actor.id,
        now=now,
    )
    if order is None:
        _open(consultation, now=now)
    else:
        consultation.order_id = order.id
    db.session.flush()
    record(
        action="consult.asked",
        actor=actor,
        object_type="consultation",
        object_id=str(consultation.id),
        patient_id=patient.id,
    )
    return consultation


def _open(consultation: Consultation, *, now: datetime) -> None:
    consultation.status = ConsultStatus.OPEN
    consultation.paid_at = now
    consultation.answer_due_at = now + timedelta(hours=consultation.answer_hours)
    notices.tell_clinician_new_question(consultation, now=now)


def on_order_paid(_sender: Any, **kw: Any) -> bool | None:
    """Billing reports a paid consultation fee: open the question (False: billing refunds it)."""
    ref = OrderRef.read(str(kw.get("reference", "")))
    if ref is None or ref.kind is not OrderKind.CONSULTATION:
        return None
    consultation = db.session.scalar(
        sa.select(Consultation)
        .where(Consultation.id == ref.id, Consultation.hospital_id == kw.get("hospital_id"))
        .with_for_update()
    )
    if consultation is None:
        return False
    if consultation.status is not ConsultStatus.AWAITING_PAYMENT:
        # Paid already (a replay), or lapsed before the money came: a lapsed one is refunded.
        return consultation.order_id == kw.get("order_id") and consultation.paid_at is not None
    _open(consultation, now=kw["now"])
    db.session.flush()
    return True
