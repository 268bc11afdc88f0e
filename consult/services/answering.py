"""The conversation: the clinician's replies (with a renewal, a lab order or "come back"), the
patient's follow-ups, closing, and declining with a full refund."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from consult.models import Consultation, ConsultMessage, ConsultStatus
from consult.services import access, notices
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.billing.services import cancellations
from hospital.billing.services import orders as billing_orders
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput

MessageBody = str


def _wrong_state() -> Conflict:
    return Conflict(
        _l("This consultation is not open for that any more."), code=ErrorCode.CONSULT_WRONG_STATE
    )


def _text(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidInput(_l("Write your message."), code=ErrorCode.INVALID_INPUT)
    return text


def _conversation_open(consultation: Consultation, *, now: datetime) -> bool:
    if consultation.status is ConsultStatus.OPEN:
        return True
    return consultation.status is ConsultStatus.ANSWERED and (
        consultation.closes_at is None or now < consultation.closes_at
    )


def reply(
    consultation_id: int,
    *,
    actor: Account,
    body: str,
    prescription_items: Sequence[billing_orders.ItemRequest] = (),
    lab_items: Sequence[billing_orders.ItemRequest] = (),
    come_back: bool = False,
    link: str = "",
    now: datetime,
) -> ConsultMessage:
    """The clinician answers; may renew a prescription, order a lab test or ask them to come in."""
    consultation = access.for_clinician(
        consultation_id, actor=actor, action="consult.reply", lock=True
    )
    text = _text(body)
    if not _conversation_open(consultation, now=now):
        raise _wrong_state()
    visit_key = f"consultation:{consultation.id}"
    message = ConsultMessage(
        hospital_id=consultation.hospital_id,
        consultation_id=consultation.id,
        author_account_id=actor.id,
        from_clinician=True,
        body=text,
        come_back=come_back,
        created_at=now,
    )
    if prescription_items:
        message.prescription_order_id = billing_orders.create_visit_order(
            actor=actor,
            patient_id=consultation.patient_id,
            items=list(prescription_items),
            visit_key=visit_key,
            now=now,
        ).id
    if lab_items:
        message.lab_order_id = billing_orders.create_visit_order(
            actor=actor,
            patient_id=consultation.patient_id,
            items=list(lab_items),
            visit_key=visit_key,
            now=now,
        ).id
    consultation.messages.append(message)
    if consultation.status is ConsultStatus.OPEN:
        consultation.status = ConsultStatus.ANSWERED
        consultation.answered_at = now
        hours = int(current_app.config["CONSULT_CONVERSATION_HOURS"])
        consultation.closes_at = now + timedelta(hours=hours)
    record(
        action="consult.replied",
        actor=actor,
        object_type="consultation",
        object_id=str(consultation.id),
        patient_id=consultation.patient_id,
    )
    notices.tell_patient_answered(consultation, link=link, now=now)
    return message


def follow_up(consultation_id: int, *, actor: Account, body: str, now: datetime) -> ConsultMessage:
    """The patient (or a family account with the booking right) writes again after an answer."""
    consultation = access.for_patient_side(
        consultation_id, actor=actor, action="consult.follow_up", lock=True
    )
    text = _text(body)
    if consultation.status is not ConsultStatus.ANSWERED or not _conversation_open(
        consultation, now=now
    ):
        raise _wrong_state()
    used = sum(1 for m in consultation.messages if not m.from_clinician)
    if used >= int(current_app.config["CONSULT_MAX_FOLLOW_UPS"]):
        raise Conflict(
            _l(
                "You have used the follow-up messages of this consultation. Book a visit to ask more."
            ),
            code=ErrorCode.CONSULT_FOLLOW_UPS_USED,
        )
    message = ConsultMessage(
        hospital_id=consultation.hospital_id,
        consultation_id=consultation.id,
        author_account_id=actor.id,
        from_clinician=False,
        body=text,
        created_at=now,
    )
    consultation.messages.append(message)
    notices.tell_clinician_follow_up(consultation, now=now)
    return message


def close(consultation_id: int, *, actor: Account, now: datetime) -> Consultation:
    """The patient's side or the clinician ends an answered conversation."""
    consultation, _as_clinician = access.for_reader(consultation_id, actor=actor)
    if consultation.status is ConsultStatus.CLOSED:
        return consultation
    if consultation.status is not ConsultStatus.ANSWERED:
        raise _wrong_state()
    consultation.status = ConsultStatus.CLOSED
    consultation.ended_at = now
    return consultation


def decline(consultation_id: int, *, actor: Account, reason: str, now: datetime) -> Consultation:
    """The clinician declines an unanswered question with a reason; the fee is refunded in full."""
    consultation = access.for_clinician(
        consultation_id, actor=actor, action="consult.decline", lock=True
    )
    why = reason.strip()
    if not why:
        raise InvalidInput(_l("Give a reason for declining."), code=ErrorCode.REASON_REQUIRED)
    if consultation.status is not ConsultStatus.OPEN:
        raise _wrong_state()
    consultation.status = ConsultStatus.DECLINED
    consultation.decline_reason = why[:300]
    consultation.ended_at = now
    cancellations.cancel_consultation_order(
        hospital_id=consultation.hospital_id,
        consultation_id=consultation.id,
        reason="declined",
        now=now,
    )
    record(
        action="consult.declined",
        actor=actor,
        object_type="consultation",
        object_id=str(consultation.id),
        patient_id=consultation.patient_id,
    )
    notices.tell_patient_declined(consultation, now=now)
    return consultation
