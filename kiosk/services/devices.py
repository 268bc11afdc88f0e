"""Kiosk devices and their settings (printer, last contact), and staff help requests.

Also the few facts every kiosk operation reads: settings, the hospital and its local day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import STAFF_ROLES, Account, Device, DeviceKind, Role
from hospital.accounts.services import devices
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, InvalidInput, NotFound
from hospital.organisation.models import Hospital
from kiosk.models import HelpRequest, Kiosk, PrinterState

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$")


def config(key: str, default: Any) -> Any:
    """A kiosk setting from the app's configuration."""
    return current_app.config.get(key, default)


def hospital_of(hospital_id: int) -> Hospital:
    """The hospital a kiosk belongs to (it always exists).

    Held by the session until it ends: a kiosk request asks for it several times, and the
    session's identity map holds an unchanged row only while something else refers to it.
    """
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None
    db.session.info.setdefault("kiosk.hospitals", {})[hospital_id] = hospital
    return hospital


def _printer_address(host: str, port: Any) -> tuple[str, int]:
    host = (host or "").strip()
    if host and not _HOST.match(host):
        raise InvalidInput(
            _l("Give the printer's address as a host name or IP address, e.g. 192.168.1.50."),
            code=ErrorCode.INVALID_PRINTER_HOST,
        )
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput(
            _l("Give the printer's port as a number from 1 to 65535 (usually 9100)."),
            code=ErrorCode.INVALID_PRINTER_PORT,
        )
    return host, port


def _require_admin(action: str, *, actor: Account) -> None:
    if not actor.has_role(Role.ADMIN):
        record(action=action, outcome="denied", actor=actor, detail={"needs": ["admin"]})
        raise Forbidden(
            _l("Your account does not have the role this needs."), code=ErrorCode.ROLE_REQUIRED
        )


def register_kiosk(
    *, actor: Account, name: str, location: str, printer_host: str, printer_port: int, now: datetime
) -> tuple[Kiosk, Device, str]:
    """Register a kiosk of the actor's hospital; return it with its device token (shown once)."""
    _require_admin("kiosk.register", actor=actor)
    host, port = _printer_address(printer_host, printer_port)
    device, token = devices.register_device(
        actor=actor,
        kind=DeviceKind.KIOSK,
        name=name,
        location=location,
        service_point_id=None,
        now=now,
    )
    kiosk = Kiosk(
        device_id=device.id,
        hospital_id=device.hospital_id,
        printer_host=host,
        printer_port=port,
        printer_state=PrinterState.UNKNOWN if host else PrinterState.BROWSER,
        created_at=now,
    )
    db.session.add(kiosk)
    db.session.flush()
    record(
        action="kiosk.register",
        actor=actor,
        object_type="device",
        object_id=str(device.id),
        detail={"printer": f"{host}:{port}" if host else "browser"},
    )
    return kiosk, device, token


def kiosk_of(device: Device) -> Kiosk:
    """The kiosk settings of a kiosk device (a device registered elsewhere gets defaults)."""
    if device.kind is not DeviceKind.KIOSK:
        raise Forbidden(
            _l("This device may not use this function."), code=ErrorCode.WRONG_DEVICE_KIND
        )
    kiosk = db.session.get(Kiosk, device.id)
    if kiosk is None:
        kiosk = Kiosk(
            device_id=device.id,
            hospital_id=device.hospital_id,
            printer_host="",
            printer_port=9100,
            printer_state=PrinterState.BROWSER,
        )
        db.session.add(kiosk)
        db.session.flush()
    return kiosk


def update_printer(
    device_id: int, *, actor: Account, printer_host: str, printer_port: int, now: datetime
) -> Kiosk:
    """Change where a kiosk prints (an empty host: the kiosk's browser prints)."""
    _require_admin("kiosk.update_printer", actor=actor)
    device = db.session.get(Device, device_id)
    if (
        device is None
        or device.hospital_id != actor.hospital_id
        or device.kind is not DeviceKind.KIOSK
    ):
        raise NotFound(
            _l("There is no such kiosk in this hospital."), code=ErrorCode.KIOSK_NOT_FOUND
        )
    host, port = _printer_address(printer_host, printer_port)
    kiosk = kiosk_of(device)
    kiosk.printer_host, kiosk.printer_port = host, port
    kiosk.printer_state = PrinterState.UNKNOWN if host else PrinterState.BROWSER
    kiosk.printer_checked_at = None
    db.session.flush()
    record(
        action="kiosk.update_printer",
        actor=actor,
        object_type="device",
        object_id=str(device.id),
        detail={"printer": f"{host}:{port}" if host else "browser"},
    )
    return kiosk


def touch(device: Device, *, now: datetime) -> Kiosk:
    """Note that the kiosk was in contact (its heartbeat, or any request)."""
    kiosk = kiosk_of(device)
    kiosk.last_contact_at = now
    return kiosk


@dataclass(frozen=True)
class KioskRow:
    device: Device
    kiosk: Kiosk
    open_help_requests: int


def _require_staff(*, actor: Account) -> None:
    if not actor.has_role(*STAFF_ROLES):
        raise Forbidden(
            _l("Your account does not have the role this needs."), code=ErrorCode.ROLE_REQUIRED
        )


def list_kiosks(*, actor: Account) -> list[KioskRow]:
    """The kiosks of the actor's hospital with last contact, printer state and open help calls."""
    _require_staff(actor=actor)
    open_counts = dict(
        db.session.execute(
            sa.select(HelpRequest.device_id, sa.func.count())
            .where(HelpRequest.hospital_id == actor.hospital_id, HelpRequest.resolved_at.is_(None))
            .group_by(HelpRequest.device_id)
        )
        .tuples()
        .all()
    )
    rows = db.session.execute(
        sa.select(Device, Kiosk)
        .outerjoin(Kiosk, Kiosk.device_id == Device.id)
        .where(Device.hospital_id == actor.hospital_id, Device.kind == DeviceKind.KIOSK)
        .order_by(Device.name, Device.id)
    ).all()
    result = []
    for device, kiosk in rows:
        if kiosk is None:
            kiosk = Kiosk(
                device_id=device.id,
                hospital_id=device.hospital_id,
                printer_host="",
                printer_port=9100,
                printer_state=PrinterState.BROWSER,
            )
        result.append(KioskRow(device, kiosk, int(open_counts.get(device.id, 0))))
    return result


def call_staff(device: Device, *, now: datetime) -> HelpRequest:
    """Ask staff to come to this kiosk; pressing again while one is open changes nothing."""
    kiosk_of(device)
    existing = db.session.scalar(
        sa.select(HelpRequest).where(
            HelpRequest.device_id == device.id, HelpRequest.resolved_at.is_(None)
        )
    )
    if existing is not None:
        return existing
    request = HelpRequest(
        hospital_id=device.hospital_id,
        device_id=device.id,
        location=device.location or device.name,
        created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    return request


def open_help_requests(*, actor: Account) -> list[tuple[HelpRequest, Device]]:
    _require_staff(actor=actor)
    return list(
        db.session.execute(
            sa.select(HelpRequest, Device)
            .join(Device, Device.id == HelpRequest.device_id)
            .where(HelpRequest.hospital_id == actor.hospital_id, HelpRequest.resolved_at.is_(None))
            .order_by(HelpRequest.created_at)
        )
        .tuples()
        .all()
    )


def resolve_help_request(request_id: int, *, actor: Account, now: datetime) -> HelpRequest:
    """Staff reached the kiosk: close the request (twice is harmless)."""
    _require_staff(actor=actor)
    request = db.session.get(HelpRequest, request_id)
    if request is None or request.hospital_id != actor.hospital_id:
        raise NotFound(_l("There is no such help request."), code=ErrorCode.HELP_REQUEST_NOT_FOUND)
    if request.resolved_at is None:
        request.resolved_at = now
        request.resolved_by_account_id = actor.id
        db.session.flush()
    return request
