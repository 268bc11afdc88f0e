"""Kiosks (settings on top of a kiosk device), help requests, activity and paid walk-ins."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, enum_column, utcnow


class PrinterState(enum.StrEnum):
    UNKNOWN = "unknown"
    READY = "ready"
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    TIMEOUT = "timeout"
    BROWSER = "browser"  # no network printer: the kiosk's browser prints


class Kiosk(Model):
    """A kiosk's own settings, keyed by its device (name and location live on the device)."""

    __tablename__ = "kiosk"
    __table_args__ = (
        sa.CheckConstraint("printer_port BETWEEN 1 AND 65535", name="printer_port_range"),
    )

    device_id: Mapped[int] = mapped_column(sa.ForeignKey("device.id"), primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    # Empty host: no network printer; the kiosk's browser prints the slip instead.
    printer_host: Mapped[str] = mapped_column(sa.String(253), default="")
    printer_port: Mapped[int] = mapped_column(default=9100)
    printer_state: Mapped[PrinterState] = enum_column(PrinterState, default=PrinterState.UNKNOWN)
    printer_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HelpRequest(Model):
    """A patient at a kiosk pressed "call staff"; staff see it with the kiosk's location."""

    __tablename__ = "kiosk_help_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("device.id"), index=True)
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))


class ActivityKind(enum.StrEnum):
    TICKET = "ticket"
    CODE = "code"
    PRINT = "print"
    ID_LOOKUP = "id_lookup"  # a patient looked up by identity number


class KioskActivity(Model):
    """What a kiosk did and when: the per-kiosk rate limits count these rows."""

    __tablename__ = "kiosk_activity"
    __table_args__ = (sa.Index("ix_kiosk_activity_device_kind_at", "device_id", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("device.id"))
    kind: Mapped[ActivityKind] = enum_column(ActivityKind)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket.id"))


class WalkInStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    TICKETED = "ticketed"
    EXPIRED = "expired"  # not paid in time; its order is void
    CANCELLED = "cancelled"  # the patient left the payment screen; its order is void
    REFUNDED = "refunded"  # paid, but the queue could no longer take it: refunded in full


class WalkIn(Model):
    """A walk-in registration into a department's queue that waits for its fee to be paid.

    The ticket is issued when billing reports the payment (order reference `walk-in:<id>`), so a
    patient who paid always gets a ticket, even if the kiosk was reset meanwhile.
    """

    __tablename__ = "kiosk_walk_in"
    __table_args__ = (sa.Index("ix_kiosk_walk_in_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    # None for a same-day number taken from the phone (no kiosk involved).
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("device.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_order.id"))
    fee_fen: Mapped[int] = mapped_column(default=0)
    status: Mapped[WalkInStatus] = enum_column(WalkInStatus)
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
