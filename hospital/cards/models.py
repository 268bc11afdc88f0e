"""A durable patient card: a long-lived, revocable code a family prints for an elder without a phone."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, utcnow


class PatientCard(Model):
    __tablename__ = "patient_card"
    __table_args__ = (
        # At most one card in use per patient: reissuing revokes the old one first.
        sa.Index(
            "uq_patient_card_active",
            "patient_id",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(24), unique=True)
    issued_by_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
