"""The promise: refund what was not answered in time, close finished conversations, lapse unpaid
questions. Run by the scheduler's catch-up sweep; running it twice changes nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from consult.models import Consultation, ConsultStatus
from consult.services import notices
from hospital.billing.services import cancellations
from hospital.db import db


@dataclass(frozen=True)
class SweepResult:
    refunded: int
    closed: int
    expired: int


def _due(status: ConsultStatus, column: Any, *, now: datetime) -> list[Consultation]:
    return list(
        db.session.scalars(
            sa.select(Consultation)
            .where(Consultation.status == status, column.is_not(None), column <= now)
            .order_by(Consultation.id)
            .with_for_update(skip_locked=True)
        )
    )


def sweep(*, now: datetime) -> SweepResult:
    """Refund every open question past its promised answer time; close and lapse the rest."""
    refunded = 0
    for consultation in _due(ConsultStatus.OPEN, Consultation.answer_due_at, now=now):
        consultation.status = ConsultStatus.REFUNDED
        consultation.ended_at = now
        cancellations.cancel_consultation_order(
            hospital_id=consultation.hospital_id,
            consultation_id=consultation.id,
            reason="unanswered",
            now=now,
        )
        notices.tell_patient_refunded(consultation, now=now)
        refunded += 1
    closed = 0
    for consultation in _due(ConsultStatus.ANSWERED, Consultation.closes_at, now=now):
        consultation.status = ConsultStatus.CLOSED
        consultation.ended_at = now
        closed += 1
    expired = 0
    for consultation in _due(ConsultStatus.AWAITING_PAYMENT, Consultation.pay_by, now=now):
        consultation.status = ConsultStatus.EXPIRED
        consultation.ended_at = now
        cancellations.cancel_consultation_order(
            hospital_id=consultation.hospital_id,
            consultation_id=consultation.id,
            reason="expired",
            now=now,
        )
        expired += 1
    db.session.flush()
    return SweepResult(refunded=refunded, closed=closed, expired=expired)
