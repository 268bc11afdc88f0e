"""Tickets at the kiosk: finding one, its slip's fields, and printing the slip."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Device
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.guide.services import maps
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.visits.services import visit_of
from hospital.zones import local_date, zone_for
from kiosk.models import ActivityKind, PrinterState
from kiosk.printing.escpos import (
    NetworkPrinter,
    PrinterError,
    PrintFailure,
    desk_slip_bytes,
    ticket_bytes,
)
from kiosk.printing.slip import DeskSlip, TicketSlip
from kiosk.services.devices import config, hospital_of
from kiosk.services.throttle import check_rate, lock_kiosk, log_activity
from queueing.queries import Ticket, latest_ticket_of_patients, people_ahead
from queueing.services import notify

log = logging.getLogger(__name__)


PRINTER_MESSAGES = {
    PrintFailure.OFFLINE: _l(
        "The printer is not answering. Take a photo of the QR code on the screen, or ask staff."
    ),
    PrintFailure.PAPER_OUT: _l(
        "The printer is out of paper. Take a photo of the QR code on the screen; staff have "
        "been told."
    ),
    PrintFailure.TIMEOUT: _l(
        "The printer took too long to answer. Take a photo of the QR code on the screen, or "
        "try printing again."
    ),
}
_FAILURE_STATE = {
    PrintFailure.OFFLINE: PrinterState.OFFLINE,
    PrintFailure.PAPER_OUT: PrinterState.PAPER_OUT,
    PrintFailure.TIMEOUT: PrinterState.TIMEOUT,
}


def ticket_for_kiosk(device: Device, token: str) -> Ticket:
    """A ticket of this kiosk's hospital by its token; another hospital's is not found."""
    ticket = notify.ticket_by_token(token)
    if ticket.hospital_id != device.hospital_id:
        raise NotFound(
            _l("This ticket link is not valid. Scan the QR code on your ticket again."),
            code=ErrorCode.TICKET_NOT_FOUND,
        )
    return ticket


def last_ticket(hospital_id: int, patient_ids: list[int], *, now: datetime) -> Ticket:
    """The patients' latest ticket of today, for a reprint."""
    day = local_date(now, zone_for(hospital_of(hospital_id)))
    ticket = latest_ticket_of_patients(hospital_id, patient_ids, day)
    if ticket is None:
        raise NotFound(
            _l("You have no ticket today. Check in or register first."),
            code=ErrorCode.NO_TICKET_TODAY,
        )
    return ticket


# The slip a check-in (or a reprint) just showed, kept for the PDF and the printer requests that
# follow it, so the paper says what the screen said without reading it all again. Keyed by the
# ticket's id and secret token (never reused, even where a rolled-back id is), its queue's
# version (bumped by every change to the queue's tickets, so "people ahead" is current) and the
# map's revision (an edited map gives the next slip the new route); a slip older than
# SLIP_REUSE_SECONDS is built afresh, so an edited room or name reaches the paper soon after.
SLIP_REUSE_SECONDS = 120
SLIP_CACHE_SIZE = 512
_slips: TTLCache[tuple[int, str, int, str], TicketSlip] = TTLCache(
    maxsize=SLIP_CACHE_SIZE, ttl=SLIP_REUSE_SECONDS
)
_slips_lock = threading.Lock()


def ticket_slip(ticket: Ticket, *, ahead: int | None, now: datetime) -> TicketSlip:
    """The slip's fields: masked name only, times in the hospital's zone."""
    hospital = hospital_of(ticket.hospital_id)
    point = ticket.queue.service_point
    patient = db.session.get(Patient, ticket.patient_id) if ticket.patient_id else None
    issued = ticket.created_at.astimezone(zone_for(hospital))
    floor_map = maps.current_map(hospital.id)
    way = maps.route_to_service_point(floor_map, point) if floor_map else None
    steps = way.steps if way else []
    slip = TicketSlip(
        hospital_name_zh=hospital.name_zh,
        hospital_name_en=hospital.name_en,
        code=ticket.code,
        masked_name=mask_name(patient.name) if patient else "",
        queue_zh=point.name_zh,
        queue_en=point.name_en,
        building=point.building,
        floor=point.floor,
        room=point.room or point.code,
        directions_zh=point.directions_zh,
        directions_en=point.directions_en,
        ahead=ahead,
        issued_at=issued.strftime("%Y-%m-%d %H:%M"),
        url=notify.ticket_link(ticket),
        visit_code=_visit_code(ticket),
        route_zh=tuple(s.zh for s in steps),
        route_en=tuple(s.en for s in steps),
    )
    key = _slip_key(ticket, floor_map.revision if floor_map else "")
    with _slips_lock:
        _slips[key] = slip
    return slip


def slip_to_print(ticket: Ticket, *, now: datetime) -> TicketSlip:
    """The ticket's slip for the paper: the one just shown if nothing it says has changed."""
    key = _slip_key(ticket, maps.map_revision(ticket.hospital_id) or "")
    with _slips_lock:
        shown = _slips.get(key)
    if shown is not None:
        return shown
    return ticket_slip(ticket, ahead=people_ahead(ticket, now=now), now=now)


def _slip_key(ticket: Ticket, map_revision: str) -> tuple[int, str, int, str]:
    return (ticket.id, ticket.token, ticket.queue.version, map_revision)


def _visit_code(ticket: Ticket) -> str:
    """The code of the patient's visit of the ticket's day (none for an anonymous ticket)."""
    if ticket.patient_id is None:
        return ""
    visit = visit_of(ticket.hospital_id, ticket.patient_id, ticket.queue.service_day)
    return visit.code if visit is not None else ""


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    by_browser: bool
    state: PrinterState
    message: str


def print_slip(
    device: Device, slip: TicketSlip | DeskSlip, *, now: datetime, printer: Any = None
) -> PrintOutcome:
    """Send the slip (a ticket's, or a desk slip) to the kiosk's network printer; a failure is a
    message, not an error."""
    kiosk = lock_kiosk(device)
    check_rate(device, ActivityKind.PRINT, int(config("KIOSK_PRINTS_PER_MINUTE", 30)), now=now)
    log_activity(device, ActivityKind.PRINT, now=now)
    if not kiosk.printer_host and printer is None:
        kiosk.printer_state = PrinterState.BROWSER
        return PrintOutcome(False, True, PrinterState.BROWSER, "")
    printer = printer or NetworkPrinter(
        kiosk.printer_host,
        kiosk.printer_port,
        timeout_s=float(config("KIOSK_PRINTER_TIMEOUT_SECONDS", 3)),
    )
    kiosk.printer_checked_at = now
    try:
        printer.print_job(
            ticket_bytes(slip) if isinstance(slip, TicketSlip) else desk_slip_bytes(slip)
        )
    except PrinterError as exc:
        log.warning("kiosk %s could not print: %s", device.id, exc)
        kiosk.printer_state = _FAILURE_STATE[exc.failure]
        return PrintOutcome(False, False, kiosk.printer_state, str(PRINTER_MESSAGES[exc.failure]))
    kiosk.printer_state = PrinterState.READY
    return PrintOutcome(True, False, PrinterState.READY, "")
