"""Per-kiosk rate limits: counted actions, serialised per kiosk across server instances."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Device
from hospital.audit.service import record
from hospital.db import db, execute_dml, is_postgres
from hospital.error_codes import ErrorCode
from hospital.errors import TooManyRequests
from kiosk.models import ActivityKind, Kiosk, KioskActivity
from kiosk.services.devices import kiosk_of


def lock_kiosk(device: Device) -> Kiosk:
    """Serialise one kiosk's counted actions, so its limits hold across server instances."""
    kiosk = kiosk_of(device)
    if is_postgres():
        db.session.execute(
            sa.select(Kiosk.device_id).where(Kiosk.device_id == device.id).with_for_update()
        )
    return kiosk


def check_rate(device: Device, kind: ActivityKind, per_minute: int, *, now: datetime) -> None:
    """Refuse the action when this kiosk did it per_minute times in the last minute."""
    lock_kiosk(device)
    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(KioskActivity)
        .where(
            KioskActivity.device_id == device.id,
            KioskActivity.kind == kind,
            KioskActivity.at > now - timedelta(minutes=1),
        )
    )
    if (count or 0) >= per_minute:
        record(
            action=f"kiosk.{kind.value}",
            outcome="denied",
            hospital_id=device.hospital_id,
            object_type="device",
            object_id=str(device.id),
            detail={"reason": "rate_limited"},
        )
        raise TooManyRequests(
            _l("This kiosk is very busy. Wait a minute and try again, or ask staff."),
            code=ErrorCode.KIOSK_RATE_LIMITED,
            details={"retry_after": 60},
        )


def log_activity(
    device: Device, kind: ActivityKind, ticket_id: int | None = None, *, now: datetime
) -> None:
    """Count one action of this kiosk (the limits look back a minute)."""
    db.session.add(
        KioskActivity(
            hospital_id=device.hospital_id,
            device_id=device.id,
            kind=kind,
            at=now,
            ticket_id=ticket_id,
        )
    )
    db.session.flush()


def prune(*, now: datetime) -> int:
    """Delete kiosk activity rows older than a day (the limits look back a minute)."""
    cutoff = now - timedelta(days=1)
    activity = execute_dml(sa.delete(KioskActivity).where(KioskActivity.at < cutoff)).rowcount
    return int(activity or 0)
