"""Online follow-up consultations (复诊咨询): the clinician's settings, the question, the thread."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow


class ConsultSetting(Model):
    """One clinician's offer: on or off, to any patient or only those seen lately, fee, promise."""

    __tablename__ = "consult_setting"
    __table_args__ = (
        sa.UniqueConstraint("clinician_id"),
        sa.CheckConstraint("fee_fen >= 0", name="fee_not_negative"),
        sa.CheckConstraint("answer_hours > 0", name="answer_hours_positive"),
        sa.CheckConstraint("daily_cap >= 0", name="daily_cap_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(sa.ForeignKey("clinician.id"))
    is_offered: Mapped[bool] = mapped_column(default=True)
    # False: only patients the clinician saw within CONSULT_RECENT_VISIT_DAYS may ask.
    open_to_all: Mapped[bool] = mapped_column(default=False)
    fee_fen: Mapped[int] = mapped_column()
    answer_hours: Mapped[int] = mapped_column()
    daily_cap: Mapped[int] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsultStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    OPEN = "open"  # paid (or free), waiting for the clinician's first answer
    ANSWERED = "answered"  # the conversation runs until it closes
    CLOSED = "closed"
    REFUNDED = "refunded"  # not answered within the promised time: refunded in full
    DECLINED = "declined"  # the clinician declined with a reason: refunded in full
    EXPIRED = "expired"  # never paid


WAITING_FOR_CLINICIAN = (ConsultStatus.OPEN, ConsultStatus.ANSWERED)


class Consultation(Model):
    """A patient's question to one clinician, its fee order and its answer deadline."""

    __tablename__ = "consultation"
    __table_args__ = (
        sa.Index("ix_consultation_status_due", "status", "answer_due_at"),
        sa.Index("ix_consultation_clinician_created", "clinician_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    clinician_id: Mapped[int] = mapped_column(sa.ForeignKey("clinician.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    asked_by_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    status: Mapped[ConsultStatus] = enum_column(ConsultStatus)
    question: Mapped[str] = mapped_column(sa.Text)
    emergency_acknowledged: Mapped[bool] = mapped_column(default=False)
    fee_fen: Mapped[int] = mapped_column(default=0)
    answer_hours: Mapped[int] = mapped_column()
    # Billing's fee order, by id only (consult reads it through billing's services).
    order_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(sa.String(300), default="")

    messages: Mapped[list[ConsultMessage]] = relationship(
        back_populates="consultation", order_by="ConsultMessage.id", lazy="selectin"
    )


class ConsultMessage(Model):
    """One message of the thread: the patient's follow-up or the clinician's reply."""

    __tablename__ = "consult_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), index=True)
    author_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    from_clinician: Mapped[bool] = mapped_column()
    body: Mapped[str] = mapped_column(sa.Text)
    # What the clinician did in the reply: a renewed prescription or a lab order (billing's order
    # id, paid online, giving a station number), or an invitation to come back.
    prescription_order_id: Mapped[int | None] = mapped_column()
    lab_order_id: Mapped[int | None] = mapped_column()
    come_back: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    consultation: Mapped[Consultation] = relationship(back_populates="messages")


class ConsultAttachment(Model):
    """A photo or PDF sent with a question; the file lives outside the web root, by a random name."""

    __tablename__ = "consult_attachment"
    __table_args__ = (
        sa.UniqueConstraint("storage_name"),
        sa.CheckConstraint("size_bytes > 0", name="size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id"), index=True)
    uploaded_by_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    storage_name: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
