"""FHIR system clients: a regional platform or referral system holding an admin-issued bearer token."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, utcnow


class FhirClient(Model):
    """A system client with SMART v2 scopes; it acts through its own registrar-like account."""

    __tablename__ = "fhir_client"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # The account the client's bookings and cancellations are made by (and audited as).
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), unique=True)
    # Space-separated SMART scopes, e.g. "system/Slot.rs system/Appointment.cru".
    scopes: Mapped[str] = mapped_column(sa.String(500))
    # SHA-256 of the bearer token: a leaked database does not leak live tokens.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FhirPublication(Model):
    """One stored SMART Scheduling Links file, rewritten by the publish job and served as is."""

    __tablename__ = "fhir_publication"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # Location, Schedule or Slot
    content: Mapped[str] = mapped_column(sa.Text)  # NDJSON
    etag: Mapped[str] = mapped_column(sa.String(64))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the content last changed: polls with If-Modified-Since stay cheap between changes.
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
