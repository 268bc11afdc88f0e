"""The append-only audit log: who did what to which record, and whether it was allowed."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, enum_column, make_append_only, utcnow


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_hospital_at", "hospital_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hospital.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    actor_role: Mapped[str] = mapped_column(sa.String(100), default="")
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("device.id"))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40), default="")
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    outcome: Mapped[Outcome] = enum_column(Outcome)
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    request_id: Mapped[str] = mapped_column(sa.String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_change(*_args: Any) -> None:
    raise RuntimeError("the audit log is append-only")


make_append_only(AuditEntry.__table__)
