"""Staff manage kiosks: the list, registration, printers and help requests."""

from __future__ import annotations

from typing import Any

from hospital.accounts.guards import access, signed_in_account
from hospital.accounts.models import STAFF_ROLES, Device, Role
from hospital.db import db, utcnow
from kiosk.rest.common import _help_out, blp
from kiosk.schemas import (
    KioskHelpRequestOut,
    KioskOut,
    KioskPrinterArgs,
    RegisteredKioskOut,
    RegisterKioskArgs,
)
from kiosk.services import devices

# ---- staff --------------------------------------------------------------------------------


def _kiosk_out(row: devices.KioskRow) -> dict[str, Any]:
    kiosk = row.kiosk
    return {
        "device_id": row.device.id,
        "name": row.device.name,
        "location": row.device.location,
        "is_active": row.device.is_active,
        "printer": f"{kiosk.printer_host}:{kiosk.printer_port}" if kiosk.printer_host else "",
        "printer_state": kiosk.printer_state.value,
        "printer_checked_at": kiosk.printer_checked_at,
        "last_contact_at": kiosk.last_contact_at,
        "open_help_requests": row.open_help_requests,
    }


@blp.route("/devices", methods=["GET"])
@access(roles=STAFF_ROLES)  # checked by the service
@blp.response(200, KioskOut(many=True))
def list_kiosks() -> list[dict[str, Any]]:
    """Kiosks of the staff member's hospital with last contact and printer state."""
    return [_kiosk_out(r) for r in devices.list_kiosks(actor=signed_in_account())]


@blp.route("/devices", methods=["POST"])
@access(roles=[Role.ADMIN])  # checked by the service
@blp.arguments(RegisterKioskArgs)
@blp.response(201, RegisteredKioskOut)
def register_kiosk(args: dict[str, Any]) -> dict[str, Any]:
    """Register a kiosk (admins); the device token is shown only in this answer."""
    kiosk, device, token = devices.register_kiosk(actor=signed_in_account(), now=utcnow(), **args)
    return {**_kiosk_out(devices.KioskRow(device, kiosk, 0)), "token": token}


@blp.route("/devices/<int:device_id>/printer", methods=["PUT"])
@access(roles=[Role.ADMIN])  # checked by the service
@blp.arguments(KioskPrinterArgs)
@blp.response(200, KioskOut)
def update_printer(args: dict[str, Any], device_id: int) -> dict[str, Any]:
    """Change a kiosk's printer address (admins)."""
    actor = signed_in_account()
    kiosk = devices.update_printer(device_id, actor=actor, now=utcnow(), **args)
    device = db.session.get(Device, device_id)
    assert device is not None
    return _kiosk_out(devices.KioskRow(device, kiosk, 0))


@blp.route("/help-requests", methods=["GET"])
@access(roles=STAFF_ROLES)  # checked by the service
@blp.response(200, KioskHelpRequestOut(many=True))
def help_requests() -> list[dict[str, Any]]:
    """Open "call staff" requests with each kiosk's location."""
    return [_help_out(r, d) for r, d in devices.open_help_requests(actor=signed_in_account())]


@blp.route("/help-requests/<int:request_id>/resolve", methods=["POST"])
@access(roles=STAFF_ROLES)  # checked by the service
@blp.response(200, KioskHelpRequestOut)
def resolve_help_request(request_id: int) -> dict[str, Any]:
    """Staff reached the kiosk."""
    request = devices.resolve_help_request(request_id, actor=signed_in_account(), now=utcnow())
    device = db.session.get(Device, request.device_id)
    assert device is not None
    return _help_out(request, device)
