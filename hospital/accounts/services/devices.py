"""Hospital devices (kiosks, display boards, lab systems): registering, listing, disabling."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Device, DeviceKind, Role
from hospital.accounts.services.roles import role_required
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, NotFound
from hospital.organisation.models import Hospital, ServicePoint


def device_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register_device(
    *,
    actor: Account | None,
    kind: DeviceKind | str,
    name: str,
    location: str,
    service_point_id: int | None,
    now: datetime,
    hospital: Hospital | None = None,
) -> tuple[Device, str]:
    """Register a kiosk, display board or lab system; return it with its token (shown only now).

    An operator at the CLI passes actor None and the hospital.
    """
    if actor is not None:
        if not actor.has_role(Role.ADMIN):
            raise role_required("device.register", "device", 0, Role.ADMIN.value, actor=actor)
        hospital_id = actor.hospital_id
    elif hospital is not None:
        hospital_id = hospital.id
    else:
        raise ValueError("register_device needs an actor or a hospital")
    try:
        kind = DeviceKind(kind)
    except ValueError:
        raise InvalidInput(
            _l("Unknown device kind. Choose kiosk, display_board or lab_system."),
            code=ErrorCode.INVALID_DEVICE_KIND,
        ) from None
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput(
            _l("Give the device a name of at most 100 characters."),
            code=ErrorCode.INVALID_DEVICE_NAME,
        )
    location = " ".join((location or "").split())
    if len(location) > 200:
        raise InvalidInput(
            _l("Keep the location to 200 characters or fewer."), code=ErrorCode.INVALID_LOCATION
        )
    if service_point_id is not None:
        point = db.session.get(ServicePoint, service_point_id)
        if point is None or point.hospital_id != hospital_id:
            raise NotFound(
                _l(
                    "There is no service point %(id)s in this hospital. Check the number.",
                    id=service_point_id,
                ),
                code=ErrorCode.SERVICE_POINT_NOT_FOUND,
            )
    token = secrets.token_urlsafe(32)
    device = Device(
        hospital_id=hospital_id,
        kind=kind,
        name=name,
        location=location,
        service_point_id=service_point_id,
        token_hash=device_token_hash(token),
        is_active=True,
        created_at=now,
    )
    db.session.add(device)
    db.session.flush()
    record(
        action="device.register",
        actor=actor,
        hospital_id=hospital_id,
        object_type="device",
        object_id=str(device.id),
        detail={"kind": kind.value, "name": name, "location": location},
    )
    return device, token


def list_devices(*, actor: Account) -> list[Device]:
    """The devices of the actor's hospital (admins only)."""
    if not actor.has_role(Role.ADMIN):
        raise role_required("device.list", "device", 0, Role.ADMIN.value, actor=actor)
    return list(
        db.session.scalars(
            sa.select(Device).where(Device.hospital_id == actor.hospital_id).order_by(Device.id)
        )
    )


def disable_device(*, actor: Account | None, device_id: int, now: datetime) -> Device:
    """Refuse the device's token from now on."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise role_required("device.disable", "device", device_id, Role.ADMIN.value, actor=actor)
    device = db.session.get(Device, device_id)
    if device is None or (actor is not None and device.hospital_id != actor.hospital_id):
        raise NotFound(
            _l("There is no device %(id)s in this hospital. Check the number.", id=device_id),
            code=ErrorCode.DEVICE_NOT_FOUND,
        )
    device.is_active = False
    db.session.flush()
    record(
        action="device.disable",
        actor=actor,
        hospital_id=device.hospital_id,
        object_type="device",
        object_id=str(device.id),
    )
    return device
