"""Kiosk operations: devices and settings, help requests, identification, check-in, walk-ins,
tickets and printing. The only writer of the kiosk tables.

Other modules' tables are changed only through their services: scheduling and queueing check in
and issue tickets, accounts registers the device, notifications sends the code.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from hospital import events
from hospital.accounts import service as accounts_service
from hospital.accounts.models import STAFF_ROLES, Account, CodePurpose, Device, DeviceKind, Role
from hospital.audit.service import record
from hospital.billing.pricing import fen_to_yuan
from hospital.db import db, is_postgres
from hospital.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from hospital.notifications.messages import register_template
from hospital.organisation.models import Clinician, Department, Hospital
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.identity import (
    IdentityError,
    mask_name,
    normalize_passport,
    normalize_phone,
    parse_resident_id,
)
from hospital.patients.models import FamilyLink, Patient, Relationship
from kiosk.models import (
    ActivityKind,
    HelpRequest,
    Kiosk,
    KioskActivity,
    PrinterState,
    WalkIn,
    WalkInStatus,
)
from kiosk.printing.escpos import NetworkPrinter, PrinterError, PrintFailure, ticket_bytes
from kiosk.printing.slip import TicketSlip
from queueing import service as queueing_service
from queueing.models import ACTIVE_STATUSES, ServiceQueue, Ticket
from queueing.snapshots import people_ahead
from scheduling import appointment_codes
from scheduling.models import Appointment, AppointmentState, ClinicSession

log = logging.getLogger(__name__)

KIOSK_CODE_TEMPLATE = "kiosk_code"
register_template(
    KIOSK_CODE_TEMPLATE,
    subject=_l("Your kiosk code"),
    body=_l("Your code at the {hospital} kiosk is {code}. It expires in {minutes} minutes."),
)

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$")
CONFIRM_SALT = "kiosk-confirmed-phone"

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


def _config(key: str, default: Any) -> Any:
    return current_app.config.get(key, default)


def local_day(hospital: Hospital, now: datetime) -> date:
    return now.astimezone(ZoneInfo(hospital.timezone)).date()


def _hospital(hospital_id: int) -> Hospital:
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None
    return hospital


def hospital_zone(hospital_id: int) -> ZoneInfo:
    return ZoneInfo(_hospital(hospital_id).timezone)


# ---- devices and settings -----------------------------------------------------------------


def _printer_address(host: str, port: Any) -> tuple[str, int]:
    host = (host or "").strip()
    if host and not _HOST.match(host):
        raise InvalidInput(
            _l("Give the printer's address as a host name or IP address, e.g. 192.168.1.50."),
            code="invalid_printer_host",
        )
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidInput(
            _l("Give the printer's port as a number from 1 to 65535 (usually 9100)."),
            code="invalid_printer_port",
        )
    return host, port


def _require_admin(actor: Account, action: str) -> None:
    if not actor.has_role(Role.ADMIN):
        record(action=action, outcome="denied", actor=actor, detail={"needs": ["admin"]})
        raise Forbidden(_l("Your account does not have the role this needs."), code="role_required")


def register_kiosk(
    actor: Account,
    *,
    name: str,
    location: str,
    printer_host: str,
    printer_port: int,
    now: datetime,
) -> tuple[Kiosk, Device, str]:
    """Register a kiosk of the actor's hospital; return it with its device token (shown once)."""
    _require_admin(actor, "kiosk.register")
    host, port = _printer_address(printer_host, printer_port)
    device, token = accounts_service.register_device(
        actor, kind=DeviceKind.KIOSK, name=name, location=location, service_point_id=None, now=now
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
        raise Forbidden(_l("This device may not use this function."), code="wrong_device_kind")
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
    actor: Account, device_id: int, *, printer_host: str, printer_port: int, now: datetime
) -> Kiosk:
    """Change where a kiosk prints (an empty host: the kiosk's browser prints)."""
    _require_admin(actor, "kiosk.update_printer")
    device = db.session.get(Device, device_id) if isinstance(device_id, int) else None
    if (
        device is None
        or device.hospital_id != actor.hospital_id
        or device.kind is not DeviceKind.KIOSK
    ):
        raise NotFound(_l("There is no such kiosk in this hospital."), code="kiosk_not_found")
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


def _require_staff(actor: Account) -> None:
    if not actor.has_role(*STAFF_ROLES):
        raise Forbidden(_l("Your account does not have the role this needs."), code="role_required")


def list_kiosks(actor: Account) -> list[KioskRow]:
    """The kiosks of the actor's hospital with last contact, printer state and open help calls."""
    _require_staff(actor)
    open_counts = dict(
        db.session.execute(
            sa.select(HelpRequest.device_id, sa.func.count())
            .where(HelpRequest.hospital_id == actor.hospital_id, HelpRequest.resolved_at.is_(None))
            .group_by(HelpRequest.device_id)
        ).all()
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


# ---- help requests ------------------------------------------------------------------------


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


def open_help_requests(actor: Account) -> list[tuple[HelpRequest, Device]]:
    _require_staff(actor)
    return list(
        db.session.execute(
            sa.select(HelpRequest, Device)
            .join(Device, Device.id == HelpRequest.device_id)
            .where(HelpRequest.hospital_id == actor.hospital_id, HelpRequest.resolved_at.is_(None))
            .order_by(HelpRequest.created_at)
        ).all()
    )


def resolve_help_request(actor: Account, request_id: int, *, now: datetime) -> HelpRequest:
    """Staff reached the kiosk: close the request (twice is harmless)."""
    _require_staff(actor)
    request = db.session.get(HelpRequest, request_id) if isinstance(request_id, int) else None
    if request is None or request.hospital_id != actor.hospital_id:
        raise NotFound(_l("There is no such help request."), code="help_request_not_found")
    if request.resolved_at is None:
        request.resolved_at = now
        request.resolved_by_account_id = actor.id
        db.session.flush()
    return request


# ---- rate limits --------------------------------------------------------------------------


def _lock_kiosk(device: Device) -> Kiosk:
    """Serialise one kiosk's counted actions, so its limits hold across server instances."""
    kiosk = kiosk_of(device)
    if is_postgres():
        db.session.execute(
            sa.select(Kiosk.device_id).where(Kiosk.device_id == device.id).with_for_update()
        )
    return kiosk


def _check_rate(device: Device, kind: ActivityKind, per_minute: int, now: datetime) -> None:
    _lock_kiosk(device)
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
            code="kiosk_rate_limited",
            details={"retry_after": 60},
        )


def _log_activity(
    device: Device, kind: ActivityKind, now: datetime, ticket_id: int | None = None
) -> None:
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


# ---- confirming a phone with a one-time code ----------------------------------------------


def normalized_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except IdentityError:
        raise InvalidInput(
            _l("Enter a mobile number: 11 digits starting with 1, e.g. 13800138000."),
            code="invalid_phone",
        ) from None


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def send_code(device: Device, phone: str, *, language: str, now: datetime) -> int:
    """Text a 6-digit code to phone; return seconds until another may be sent to it."""
    phone = normalized_phone(phone)
    _check_rate(device, ActivityKind.CODE, int(_config("KIOSK_CODES_PER_MINUTE", 6)), now)
    _log_activity(device, ActivityKind.CODE, now)
    return accounts_service.send_phone_code(
        _hospital(device.hospital_id),
        phone,
        purpose=CodePurpose.KIOSK_CONFIRM,
        template=KIOSK_CODE_TEMPLATE,
        language="en" if language == "en" else "zh",
        now=now,
        device=device,
    )


def verify_code(device: Device, phone: str, code: str, *, now: datetime) -> str:
    """Check the latest code sent to phone at this hospital; return a short-lived confirmation."""
    phone = normalized_phone(phone)
    accounts_service.check_phone_code(
        _hospital(device.hospital_id),
        phone,
        code,
        purpose=CodePurpose.KIOSK_CONFIRM,
        now=now,
        device=device,
    )
    return confirmation_token(device.id, phone)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt=CONFIRM_SALT)


def confirmation_token(device_id: int, phone: str) -> str:
    return _serializer().dumps({"d": device_id, "p": phone})


def confirmed_phone(device: Device, token: str) -> str:
    """The phone a confirmation token proves, if it was made at this kiosk and is still fresh."""
    max_age = int(_config("KIOSK_CONFIRM_SECONDS", 300))
    try:
        data = _serializer().loads(token or "", max_age=max_age)
    except SignatureExpired:
        raise Unauthorized(
            _l("Your confirmation has run out. Start again and ask for a new code."),
            code="confirmation_expired",
        ) from None
    except BadSignature:
        raise Unauthorized(
            _l("Confirm your phone number with a code first."), code="confirmation_required"
        ) from None
    if not isinstance(data, dict) or data.get("d") != device.id:
        raise Unauthorized(
            _l("Confirm your phone number with a code first."), code="confirmation_required"
        )
    return str(data["p"])


# ---- finding the patient and the appointment ----------------------------------------------


def patients_for_phone(hospital_id: int, phone: str) -> list[Patient]:
    """Patients with this phone, and those the account of this phone acts for."""
    linked = (
        sa.select(FamilyLink.patient_id)
        .join(Account, Account.id == FamilyLink.account_id)
        .where(Account.hospital_id == hospital_id, Account.phone == phone)
    )
    return list(
        db.session.scalars(
            sa.select(Patient)
            .where(
                Patient.hospital_id == hospital_id,
                sa.or_(Patient.phone == phone, Patient.id.in_(linked)),
            )
            .order_by(Patient.id)
        )
    )


# A lookup must count even when the request that made it fails (most lookups of a number that
# finds nothing end in a 404, which rolls back): the row is written again after the rollback,
# and committed with the failure's audit entry (keep_fruitless_lookup), which the request edge
# replays (hospital.audit.service.replay_after_rollback).
_LOOKUPS_TO_KEEP = "kiosk_id_lookups_to_keep"


@event.listens_for(Session, "after_commit")
def _forget_lookups(session: Session) -> None:
    session.info.pop(_LOOKUPS_TO_KEEP, None)


@event.listens_for(Session, "after_soft_rollback")
def _replay_lookups(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is not None or not session.is_active:
        return
    rows = session.info.pop(_LOOKUPS_TO_KEEP, None)
    if rows:
        session.execute(sa.insert(KioskActivity), rows)


def keep_fruitless_lookup(device: Device) -> None:
    """Audit an identity lookup that found nothing today (kept, with its count, on rollback)."""
    record(
        action="kiosk.id_lookup",
        outcome="failed",
        device=device,
        object_type="device",
        object_id=str(device.id),
        detail={"reason": "nothing_today"},
    )


def patient_for_identity(device: Device, number: str, *, now: datetime) -> Patient | None:
    """The patient with this resident ID or passport number at this kiosk's hospital, if any.

    Lookups are counted per kiosk (HOSPITAL_KIOSK_ID_LOOKUPS_PER_MINUTE), and callers answer an
    unknown number exactly as a known one with nothing today, so the kiosk cannot be used to
    find out who is a patient here.
    """
    raw = re.sub(r"\s", "", number or "").upper()
    candidates = set()
    with contextlib.suppress(IdentityError):
        candidates.add(parse_resident_id(raw).number)
    with contextlib.suppress(IdentityError):
        candidates.add(normalize_passport(raw))
    if not candidates:
        raise InvalidInput(
            _l("Enter the 18 characters of the identity card, or the passport number."),
            code="invalid_identity_number",
        )
    _check_rate(
        device, ActivityKind.ID_LOOKUP, int(_config("KIOSK_ID_LOOKUPS_PER_MINUTE", 10)), now
    )
    _log_activity(device, ActivityKind.ID_LOOKUP, now)
    db.session().info.setdefault(_LOOKUPS_TO_KEEP, []).append(
        {
            "hospital_id": device.hospital_id,
            "device_id": device.id,
            "kind": ActivityKind.ID_LOOKUP,
            "at": now,
        }
    )
    return db.session.scalar(
        sa.select(Patient)
        .where(Patient.hospital_id == device.hospital_id, Patient.id_number.in_(candidates))
        .limit(1)
    )


@dataclass(frozen=True)
class AppointmentChoice:
    appointment_id: int
    starts_at: datetime
    masked_name: str
    department_zh: str
    department_en: str
    clinician_zh: str
    clinician_en: str
    checked_in: bool


def todays_appointments(
    hospital_id: int, patient_ids: list[int], now: datetime
) -> list[AppointmentChoice]:
    """Today's booked or checked-in appointments of these patients, earliest first."""
    if not patient_ids:
        return []
    day = local_day(_hospital(hospital_id), now)
    rows = db.session.execute(
        sa.select(Appointment, Patient.name, Department, Clinician)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(ClinicSession, ClinicSession.id == Appointment.session_id)
        .join(Department, Department.id == ClinicSession.department_id)
        .outerjoin(Clinician, Clinician.id == ClinicSession.clinician_id)
        .where(
            Appointment.hospital_id == hospital_id,
            Appointment.patient_id.in_(patient_ids),
            Appointment.local_date == day,
            Appointment.state.in_((AppointmentState.BOOKED, AppointmentState.CHECKED_IN)),
        )
        .order_by(ClinicSession.starts_at, Appointment.id)
    ).all()
    return [
        AppointmentChoice(
            appointment_id=a.id,
            starts_at=a.slot.starts_at,
            masked_name=mask_name(name),
            department_zh=d.name_zh,
            department_en=d.name_en,
            clinician_zh=c.name_zh if c else "",
            clinician_en=c.name_en if c else "",
            checked_in=a.state is AppointmentState.CHECKED_IN,
        )
        for a, name, d, c in rows
    ]


def no_appointment_today() -> NotFound:
    """The one answer for "no appointment today" and for an identity number we do not know."""
    return NotFound(
        _l(
            "We found no appointment for today. Check the number, or ask at the registration "
            'desk. To see a doctor today, choose "Register now" on the first screen.'
        ),
        code="no_appointment_today",
    )


def no_record_for_walk_in() -> NotFound:
    """A walk-in named by an identity number needs a record: the desk registers the person."""
    return NotFound(
        _l("We found no patient with this number. Check it, or ask at the registration desk."),
        code="patient_not_found",
    )


def appointment_from_code(device: Device, text: str) -> int:
    """The appointment a scanned QR names, if it is one of this hospital's."""
    try:
        hospital_id, appointment_id = appointment_codes.read_appointment_code(_secret(), text)
    except appointment_codes.AppointmentCodeError:
        raise InvalidInput(
            _l(
                "This is not an appointment code of this hospital. Scan the QR code of your "
                "appointment, or choose another way to check in."
            ),
            code="unknown_code",
        ) from None
    if hospital_id != device.hospital_id:
        raise InvalidInput(
            _l("This appointment is at another hospital. Please go to that hospital."),
            code="other_hospital_code",
        )
    return appointment_id


_STATE_PROBLEMS = {
    AppointmentState.CANCELLED: (
        "appointment_cancelled",
        _l('This appointment was cancelled. To see a doctor today, choose "Register now".'),
    ),
    AppointmentState.EXPIRED: (
        "appointment_expired",
        _l('This appointment was never paid and has lapsed. Choose "Register now" instead.'),
    ),
    AppointmentState.HELD: (
        "appointment_unpaid",
        _l("This appointment is not paid yet. Pay for it on your phone first, then check in."),
    ),
    AppointmentState.COMPLETED: (
        "appointment_completed",
        _l("This appointment has already been seen by the doctor."),
    ),
    AppointmentState.NO_SHOW: (
        "appointment_missed",
        _l("This appointment was missed. Please ask at the registration desk."),
    ),
}


@dataclass(frozen=True)
class IssuedTicket:
    ticket: Ticket
    new: bool
    ahead: int | None


def check_in(device: Device, appointment_id: int, *, now: datetime) -> IssuedTicket:
    """Check a booked appointment in at this kiosk: its ticket, the same one if done before."""
    appointment = (
        db.session.get(Appointment, appointment_id) if isinstance(appointment_id, int) else None
    )
    if appointment is None or appointment.hospital_id != device.hospital_id:
        raise NotFound(
            _l("We could not find this appointment. Please ask at the registration desk."),
            code="appointment_not_found",
        )
    hospital = _hospital(device.hospital_id)
    state = appointment.state
    if (
        state is AppointmentState.HELD
        and appointment.hold_expires_at
        and appointment.hold_expires_at <= now
    ):
        state = AppointmentState.EXPIRED
    if state in _STATE_PROBLEMS:
        code, message = _STATE_PROBLEMS[state]
        raise Conflict(message, code=code)
    today = local_day(hospital, now)
    if appointment.local_date != today:
        raise Conflict(
            _l(
                "This appointment is on %(day)s, not today. Please come back on that day.",
                day=appointment.local_date.isoformat(),
            ),
            code="appointment_other_day",
        )
    existing = db.session.scalar(sa.select(Ticket).where(Ticket.appointment_id == appointment.id))
    if existing is None:
        _check_rate(device, ActivityKind.TICKET, int(_config("KIOSK_TICKETS_PER_MINUTE", 30)), now)
    ticket, new = queueing_service.check_in(
        actor=None, hospital_id=device.hospital_id, appointment_id=appointment.id, now=now
    )
    if new:
        _log_activity(device, ActivityKind.TICKET, now, ticket.id)
        record(
            action="kiosk.check_in",
            hospital_id=device.hospital_id,
            object_type="ticket",
            object_id=str(ticket.id),
            patient_id=appointment.patient_id,
            detail={"device_id": device.id, "appointment_id": appointment.id},
        )
    return IssuedTicket(ticket, new, people_ahead(ticket, now))


def check_in_with_code(device: Device, code: str, *, now: datetime) -> Ticket:
    """Check in the appointment a scanned QR code names (the queueing API's device check-in)."""
    kiosk_of(device)
    return check_in(device, appointment_from_code(device, code), now=now).ticket


# ---- walk-ins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkInChoice:
    department_id: int
    name_zh: str
    name_en: str
    service_point_id: int | None  # the department's queue open today, if any
    waiting: int
    slot_today: bool  # a bookable slot with a room is left today
    queue_fee_fen: int  # the registration fee of a walk-in ticket in the queue (0: free)


def walk_in_departments(device: Device, *, now: datetime) -> list[WalkInChoice]:
    """Departments a walk-in can go to now: a queue open today, or a free slot today."""
    day = local_day(_hospital(device.hospital_id), now)
    departments = db.session.scalars(
        sa.select(Department)
        .where(Department.hospital_id == device.hospital_id, Department.is_active.is_(True))
        .order_by(Department.sort_order, Department.id)
    ).all()
    first_queue: dict[int, tuple[int, int]] = {}
    for point, queue in queueing_service.open_queues_on(device.hospital_id, day):
        if point.department_id is not None:
            first_queue.setdefault(point.department_id, (point.id, queue.id))
    waiting = dict(
        db.session.execute(
            sa.select(Ticket.queue_id, sa.func.count())
            .where(
                Ticket.queue_id.in_([q for _p, q in first_queue.values()]),
                Ticket.status.in_(ACTIVE_STATUSES),
            )
            .group_by(Ticket.queue_id)
        ).all()
    )
    from hospital.billing import service as billing_service

    fee_fen = billing_service.walk_in_fee_fen(device.hospital_id)
    slots = next_slots_today(device.hospital_id, now=now)
    choices = []
    for department in departments:
        point_queue = first_queue.get(department.id)
        slot = slots.get(department.id)
        if point_queue is None and slot is None:
            continue
        choices.append(
            WalkInChoice(
                department.id,
                department.name_zh,
                department.name_en,
                point_queue[0] if point_queue else None,
                int(waiting.get(point_queue[1], 0)) if point_queue else 0,
                slot is not None,
                fee_fen,
            )
        )
    return choices


def _walk_in_queue(device: Device, department_id: int, now: datetime) -> WalkInChoice:
    choice = next(
        (c for c in walk_in_departments(device, now=now) if c.department_id == department_id), None
    )
    if choice is None or choice.service_point_id is None:
        raise NotFound(
            _l(
                "This department takes no walk-in patients right now. Ask at the registration desk."
            ),
            code="no_walk_in_queue",
        )
    return choice


def walk_in(
    device: Device, department_id: int, *, patient_id: int | None, now: datetime
) -> IssuedTicket:
    """A free walk-in ticket in the department's queue open today (no fee is due for it)."""
    choice = _walk_in_queue(device, department_id, now)
    if choice.queue_fee_fen > 0:
        # Paying needs someone to pay from: a phone confirmed with a texted code.
        raise Conflict(
            _l(
                "Registering here costs %(fee)s yuan, paid from your phone: identify yourself "
                "with your phone number and a texted code. Without a phone, please pay at the "
                "registration desk.",
                fee=fen_to_yuan(choice.queue_fee_fen),
            ),
            code="walk_in_fee_due",
        )
    _check_rate(device, ActivityKind.TICKET, int(_config("KIOSK_TICKETS_PER_MINUTE", 30)), now)
    ticket = queueing_service.issue_walk_in(
        actor=None,
        hospital_id=device.hospital_id,
        service_point_id=choice.service_point_id,
        now=now,
        patient_id=patient_id,
    )
    _log_activity(device, ActivityKind.TICKET, now, ticket.id)
    record(
        action="kiosk.walk_in",
        hospital_id=device.hospital_id,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=patient_id,
        detail={"device_id": device.id, "department_id": department_id},
    )
    return IssuedTicket(ticket, True, people_ahead(ticket, now))


# ---- tickets, slips and printing ----------------------------------------------------------


def ticket_for_kiosk(device: Device, token: str) -> Ticket:
    """A ticket of this kiosk's hospital by its token; another hospital's is not found."""
    ticket = queueing_service.ticket_by_token(token)
    if ticket.hospital_id != device.hospital_id:
        raise NotFound(
            _l("This ticket link is not valid. Scan the QR code on your ticket again."),
            code="ticket_not_found",
        )
    return ticket


def last_ticket(hospital_id: int, patient_ids: list[int], now: datetime) -> Ticket:
    """The patients' latest ticket of today, for a reprint."""
    day = local_day(_hospital(hospital_id), now)
    ticket = (
        db.session.scalar(
            sa.select(Ticket)
            .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
            .where(
                Ticket.hospital_id == hospital_id,
                Ticket.patient_id.in_(patient_ids),
                ServiceQueue.service_day == day,
            )
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(1)
        )
        if patient_ids
        else None
    )
    if ticket is None:
        raise NotFound(
            _l("You have no ticket today. Check in or register first."), code="no_ticket_today"
        )
    return ticket


def ticket_slip(ticket: Ticket, *, ahead: int | None, now: datetime) -> TicketSlip:
    """The slip's fields: masked name only, times in the hospital's zone."""
    hospital = _hospital(ticket.hospital_id)
    point = ticket.queue.service_point
    patient = db.session.get(Patient, ticket.patient_id) if ticket.patient_id else None
    issued = ticket.created_at.astimezone(ZoneInfo(hospital.timezone))
    return TicketSlip(
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
        url=queueing_service.ticket_link(ticket),
    )


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    by_browser: bool
    state: PrinterState
    message: str


def print_slip(
    device: Device, slip: TicketSlip, *, now: datetime, printer: Any = None
) -> PrintOutcome:
    """Send the slip to the kiosk's network printer; a failure is a message, not an error."""
    kiosk = _lock_kiosk(device)
    _check_rate(device, ActivityKind.PRINT, int(_config("KIOSK_PRINTS_PER_MINUTE", 30)), now)
    _log_activity(device, ActivityKind.PRINT, now)
    if not kiosk.printer_host and printer is None:
        kiosk.printer_state = PrinterState.BROWSER
        return PrintOutcome(False, True, PrinterState.BROWSER, "")
    printer = printer or NetworkPrinter(
        kiosk.printer_host,
        kiosk.printer_port,
        timeout_s=float(_config("KIOSK_PRINTER_TIMEOUT_SECONDS", 3)),
    )
    kiosk.printer_checked_at = now
    try:
        printer.print_job(ticket_bytes(slip))
    except PrinterError as exc:
        log.warning("kiosk %s could not print: %s", device.id, exc)
        kiosk.printer_state = _FAILURE_STATE[exc.failure]
        return PrintOutcome(False, False, kiosk.printer_state, str(PRINTER_MESSAGES[exc.failure]))
    kiosk.printer_state = PrinterState.READY
    return PrintOutcome(True, False, PrinterState.READY, "")


def prune(*, now: datetime) -> int:
    """Delete kiosk activity rows older than a day (the limits look back a minute)."""
    cutoff = now - timedelta(days=1)
    activity = db.session.execute(
        sa.delete(KioskActivity).where(KioskActivity.at < cutoff)
    ).rowcount
    return int(activity or 0)


# ---- walk-in into the next same-day slot, paid from the patient's phone --------------------


@dataclass(frozen=True)
class WalkInBooking:
    appointment_id: int
    starts_at: datetime
    fee_fen: int
    pay_url: str  # empty when nothing is to be paid


def _account_for_phone(hospital_id: int, phone: str) -> Account | None:
    return db.session.scalar(
        sa.select(Account).where(
            Account.hospital_id == hospital_id, Account.phone == phone, Account.is_active.is_(True)
        )
    )


def _own_patient(hospital_id: int, phone: str, account: Account) -> Patient:
    """The patient the phone's owner is: the profile with this phone, else the account's own."""
    patients = patients_for_phone(hospital_id, phone)
    own = next((p for p in patients if p.phone == phone), None)
    if own is None:
        own_id = db.session.scalar(
            sa.select(FamilyLink.patient_id).where(
                FamilyLink.account_id == account.id, FamilyLink.relationship == Relationship.SELF
            )
        )
        own = next((p for p in patients if p.id == own_id), None)
    if own is None:
        raise NotFound(
            _l("We found no patient profile for this phone. Please ask at the registration desk."),
            code="patient_not_found",
        )
    return own


def people_for_phone(hospital_id: int, phone: str) -> list[Patient]:
    """Whom the phone's owner may register at the kiosk: themselves first, then family."""
    account = _account_for_phone(hospital_id, phone)
    if account is None:
        return []
    people = patients_acting_for(account, Permission.BOOK)
    own = next((p for p in people if p.phone == phone), None)
    return sorted(people, key=lambda p: (p is not own, p.id))


def _walk_in_patient(
    hospital_id: int, phone: str, account: Account, patient_id: int | None
) -> Patient:
    """The patient a walk-in is for: the phone's owner, or one of the family it books for."""
    if patient_id is None:
        return _own_patient(hospital_id, phone, account)
    patient = next(
        (p for p in patients_acting_for(account, Permission.BOOK) if p.id == patient_id), None
    )
    if patient is None:
        raise NotFound(
            _l("This person is not in your family list. Choose again, or ask at the desk."),
            code="patient_not_found",
        )
    return patient


def next_slots_today(
    hospital_id: int, *, now: datetime, department_id: int | None = None
) -> dict[int, Any]:
    """Each department's next bookable slot today whose session has a room (two queries)."""
    from scheduling import service as scheduling_service

    day = local_day(_hospital(hospital_id), now)
    slots = scheduling_service.search_availability(
        hospital_id,
        first_date=day,
        last_date=day,
        now=now,
        department_id=department_id,
        only_bookable=True,
    )
    if not slots:
        return {}
    with_room = set(
        db.session.scalars(
            sa.select(ClinicSession.id).where(
                ClinicSession.id.in_({s.session_id for s in slots}),
                ClinicSession.service_point_id.is_not(None),
            )
        )
    )
    first: dict[int, Any] = {}
    for slot in slots:  # in start order
        if slot.session_id in with_room:
            first.setdefault(slot.department_id, slot)
    return first


def next_slot_today(hospital_id: int, department_id: int, *, now: datetime) -> Any:
    """The department's next bookable slot today whose session has a room, or None."""
    return next_slots_today(hospital_id, now=now, department_id=department_id).get(department_id)


def book_walk_in(
    device: Device,
    department_id: int,
    *,
    phone: str,
    now: datetime,
    patient_id: int | None = None,
) -> WalkInBooking:
    """Hold the department's next slot today for the phone's owner (or a family member)."""
    from hospital.billing.models import Order
    from scheduling import service as scheduling_service

    account = _phone_account(device, phone)
    patient = _walk_in_patient(device.hospital_id, phone, account, patient_id)
    slot = next_slot_today(device.hospital_id, department_id, now=now)
    if slot is None:
        raise NotFound(
            _l("There is no free appointment left today in this department."),
            code="no_slot_today",
        )
    _check_rate(device, ActivityKind.TICKET, int(_config("KIOSK_TICKETS_PER_MINUTE", 30)), now)
    appointment = scheduling_service.hold(
        account, patient_id=patient.id, slot_id=slot.slot_id, now=now
    )
    record(
        action="kiosk.walk_in_hold",
        device=device,
        hospital_id=device.hospital_id,
        object_type="appointment",
        object_id=str(appointment.id),
        patient_id=patient.id,
    )
    if appointment.fee_fen <= 0:
        scheduling_service.confirm(account, appointment.id, now=now)
        return WalkInBooking(appointment.id, slot.starts_at, 0, "")
    order = db.session.scalar(
        sa.select(Order).where(
            Order.hospital_id == device.hospital_id,
            Order.reference == f"appointment:{appointment.id}",
        )
    )
    if order is None:
        raise Conflict(
            _l("The fee for this appointment could not be prepared. Please ask at the desk."),
            code="order_missing",
        )
    started = _start_phone_payment(account, order.id, key=f"kiosk:{appointment.id}", now=now)
    return WalkInBooking(appointment.id, slot.starts_at, order.self_pay_fen, started.redirect_url)


def _start_phone_payment(account: Account, order_id: int, *, key: str, now: datetime) -> Any:
    """Open the payment the patient completes by scanning the kiosk's QR with the phone."""
    from hospital.billing import service as billing_service
    from hospital.billing.providers.registry import enabled_provider_names

    provider = (enabled_provider_names(current_app.config) or ["sandbox"])[0]
    return billing_service.start_payment(
        account, order_id, provider_name=provider, now=now, idempotency_key=key
    )


def walk_in_booking_ticket(
    device: Device, appointment_id: int, *, phone: str, now: datetime
) -> IssuedTicket | None:
    """Once the walk-in booking is paid, its ticket; None while the payment is still awaited."""
    appointment = (
        db.session.get(Appointment, appointment_id) if isinstance(appointment_id, int) else None
    )
    allowed = {p.id for p in patients_for_phone(device.hospital_id, phone)}
    if (
        appointment is None
        or appointment.hospital_id != device.hospital_id
        or appointment.patient_id not in allowed
    ):
        raise NotFound(
            _l("We could not find this appointment. Please ask at the registration desk."),
            code="appointment_not_found",
        )
    state = appointment.state
    if state is AppointmentState.HELD and not (
        appointment.hold_expires_at and appointment.hold_expires_at <= now
    ):
        return None
    if state is AppointmentState.HELD or state is AppointmentState.EXPIRED:
        raise Conflict(
            _l(
                "The payment did not arrive in time and the place was released. Please start again."
            ),
            code="payment_too_late",
        )
    return check_in(device, appointment.id, now=now)


# ---- released reports, after a texted code -------------------------------------------------


@dataclass(frozen=True)
class ReportChoice:
    public_id: str
    title: str
    masked_name: str
    released_at: datetime | None


def _reports() -> Any:
    from kiosk import report_shelf

    shelf = report_shelf.functions()
    if shelf is None:
        raise NotFound(
            _l("Reports cannot be printed at this kiosk. Please ask at the report window."),
            code="reports_unavailable",
        )
    return shelf


def _phone_account(device: Device, phone: str) -> Account:
    account = _account_for_phone(device.hospital_id, phone)
    if account is None:
        raise NotFound(
            _l("This phone has no account with us yet. Please ask at the registration desk."),
            code="no_account_for_phone",
        )
    return account


def released_reports(device: Device, *, phone: str) -> list[ReportChoice]:
    """The released reports the phone's owner may see (own and family), newest first."""
    account = _phone_account(device, phone)
    reports = [r for r in _reports().list_for(account) if r.hospital_id == device.hospital_id]
    if not reports:
        raise NotFound(
            _l("There is no released report for you yet. We send a text message when it is."),
            code="no_released_report",
        )
    names = {
        p.id: p.name
        for p in db.session.scalars(
            sa.select(Patient).where(Patient.id.in_({r.patient_id for r in reports}))
        )
    }
    return [
        ReportChoice(
            r.public_id, r.test_name, mask_name(names.get(r.patient_id, "")), r.released_at
        )
        for r in reports
    ]


def report_pdf(device: Device, public_id: str, *, phone: str, now: datetime) -> bytes:
    """The report's issued PDF, for the phone's owner (the reports module checks access)."""
    account = _phone_account(device, phone)
    if public_id not in {c.public_id for c in released_reports(device, phone=phone)}:
        raise NotFound(
            _l("There is no released report for you yet. We send a text message when it is."),
            code="no_released_report",
        )
    download = _reports().download(account, public_id, version=None, document=False, now=now)
    record(
        action="kiosk.report_print",
        device=device,
        hospital_id=device.hospital_id,
        object_type="lab_report",
        object_id=public_id,
    )
    return bytes(download.content)


# ---- walk-in into a department's queue, its fee paid from the patient's phone -------------


@dataclass(frozen=True)
class WalkInPayment:
    walk_in_id: int
    fee_fen: int
    pay_url: str  # empty when nothing is to be paid: the ticket is issued at once


def start_paid_walk_in(
    device: Device,
    department_id: int,
    *,
    phone: str,
    now: datetime,
    patient_id: int | None = None,
) -> WalkInPayment:
    """Register a walk-in in the department's queue; its ticket comes once the fee is paid."""
    from hospital.billing import service as billing_service

    choice = _walk_in_queue(device, department_id, now)
    assert choice.service_point_id is not None
    account = _phone_account(device, phone)
    patient = _walk_in_patient(device.hospital_id, phone, account, patient_id)
    _check_rate(device, ActivityKind.TICKET, int(_config("KIOSK_TICKETS_PER_MINUTE", 30)), now)
    walk_in = WalkIn(
        hospital_id=device.hospital_id,
        device_id=device.id,
        department_id=department_id,
        service_point_id=choice.service_point_id,
        patient_id=patient.id,
        account_id=account.id,
        status=WalkInStatus.AWAITING_PAYMENT,
        created_at=now,
        expires_at=now + timedelta(minutes=int(_config("KIOSK_WALK_IN_PAY_MINUTES", 10))),
    )
    db.session.add(walk_in)
    db.session.flush()
    record(
        action="kiosk.walk_in_registered",
        device=device,
        hospital_id=device.hospital_id,
        object_type="kiosk_walk_in",
        object_id=str(walk_in.id),
        patient_id=patient.id,
        detail={"department_id": department_id},
    )
    order = billing_service.create_walk_in_order(
        hospital_id=device.hospital_id,
        patient_id=patient.id,
        walk_in_key=walk_in.id,
        account_id=account.id,
        now=now,
        expires_at=walk_in.expires_at,
    )
    if order is None:
        # The hospital charges nothing for a walk-in: the ticket now.
        _ticket_walk_in(walk_in, now=now)
        return WalkInPayment(walk_in.id, 0, "")
    walk_in.order_id = order.id
    walk_in.fee_fen = order.self_pay_fen
    started = _start_phone_payment(account, order.id, key=f"kiosk-walk-in:{walk_in.id}", now=now)
    if started.payment is None:
        # Nothing left to pay (the whole fee was covered): start_payment marked the order paid
        # and order_paid issued the ticket.
        return WalkInPayment(walk_in.id, 0, "")
    return WalkInPayment(walk_in.id, order.self_pay_fen, started.redirect_url)


def _ticket_walk_in(walk_in: WalkIn, *, now: datetime) -> Ticket:
    ticket = queueing_service.issue_walk_in(
        actor=None,
        hospital_id=walk_in.hospital_id,
        service_point_id=walk_in.service_point_id,
        now=now,
        patient_id=walk_in.patient_id,
    )
    walk_in.ticket_id = ticket.id
    walk_in.status = WalkInStatus.TICKETED
    db.session.add(
        KioskActivity(
            hospital_id=walk_in.hospital_id,
            device_id=walk_in.device_id,
            kind=ActivityKind.TICKET,
            at=now,
            ticket_id=ticket.id,
        )
    )
    db.session.flush()
    return ticket


def _walk_in_id(reference: str) -> int | None:
    kind, _, key = reference.partition(":")
    return int(key) if kind == "walk-in" and key.isdigit() else None


def on_order_paid(_sender: Any, **kw: Any) -> bool | None:
    """Billing reports a paid walk-in fee: issue the ticket (False: billing refunds it)."""
    walk_in_id = _walk_in_id(str(kw.get("reference", "")))
    if walk_in_id is None:
        return None
    now = kw["now"]
    # Billing holds the order's lock; the walk-in row is always locked after its order.
    walk_in = db.session.scalar(
        sa.select(WalkIn)
        .where(WalkIn.id == walk_in_id, WalkIn.hospital_id == kw.get("hospital_id"))
        .with_for_update()
    )
    if walk_in is None:
        return False
    if walk_in.ticket_id is not None:
        return True
    if walk_in.status is not WalkInStatus.AWAITING_PAYMENT or walk_in.expires_at <= now:
        walk_in.status = WalkInStatus.EXPIRED
        return False
    try:
        with db.session.begin_nested():
            ticket = _ticket_walk_in(walk_in, now=now)
    except DomainError as refused:
        # The queue closed between registration and payment: billing refunds in full.
        log.info("walk-in %s paid but not ticketed: %s", walk_in.id, refused)
        walk_in.status = WalkInStatus.REFUNDED
        db.session.flush()
        return False
    record(
        action="kiosk.walk_in_paid",
        hospital_id=walk_in.hospital_id,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=walk_in.patient_id,
        detail={"walk_in_id": walk_in.id, "device_id": walk_in.device_id},
    )
    return True


events.order_paid.connect(on_order_paid)


def _walk_in_of_phone(device: Device, walk_in_id: Any, phone: str) -> WalkIn:
    walk_in = db.session.get(WalkIn, walk_in_id) if isinstance(walk_in_id, int) else None
    allowed = {p.id for p in people_for_phone(device.hospital_id, phone)}
    if (
        walk_in is None
        or walk_in.hospital_id != device.hospital_id
        or (walk_in.patient_id not in allowed)
    ):
        raise NotFound(
            _l("We could not find this registration. Please ask at the registration desk."),
            code="walk_in_not_found",
        )
    return walk_in


def _walk_in_too_late() -> Conflict:
    return Conflict(
        _l(
            "The payment did not arrive in time, so no ticket was issued. If you paid, the fee "
            "is refunded automatically. Please start again."
        ),
        code="payment_too_late",
    )


def walk_in_ticket(
    device: Device, walk_in_id: int, *, phone: str, now: datetime
) -> IssuedTicket | None:
    """The paid walk-in's ticket; None while the payment is still awaited."""
    walk_in = _walk_in_of_phone(device, walk_in_id, phone)
    if walk_in.ticket_id is not None:
        ticket = db.session.get(Ticket, walk_in.ticket_id)
        assert ticket is not None
        return IssuedTicket(ticket, True, people_ahead(ticket, now))
    if walk_in.status is WalkInStatus.REFUNDED:
        raise Conflict(
            _l(
                "This department stopped taking walk-in patients before your payment arrived. "
                "The fee is refunded in full. Please ask at the registration desk."
            ),
            code="walk_in_refunded",
        )
    if walk_in.status is WalkInStatus.CANCELLED:
        raise Conflict(
            _l("This registration was cancelled. Please start again."), code="walk_in_cancelled"
        )
    # Decided at read time too: the expiry job may not have run yet.
    if walk_in.status is WalkInStatus.EXPIRED or walk_in.expires_at <= now:
        raise _walk_in_too_late()
    return None


def cancel_walk_in(device: Device, walk_in_id: int, *, phone: str, now: datetime) -> WalkIn:
    """The patient left the payment screen: void the unpaid order, so no payment lands later."""
    walk_in = _walk_in_of_phone(device, walk_in_id, phone)
    if walk_in.ticket_id is None and walk_in.status is WalkInStatus.AWAITING_PAYMENT:
        _void_walk_in(walk_in, WalkInStatus.CANCELLED, now=now)
    if walk_in.ticket_id is not None:
        raise Conflict(
            _l("This registration is already paid; its ticket has been issued."),
            code="walk_in_paid",
        )
    return walk_in


def _void_walk_in(walk_in: WalkIn, status: WalkInStatus, *, now: datetime) -> None:
    """Void the walk-in's order first (its lock comes before the walk-in's), then the walk-in."""
    from hospital.billing import service as billing_service

    billing_service.cancel_walk_in_order(
        hospital_id=walk_in.hospital_id,
        walk_in_key=walk_in.id,
        reason="expired" if status is WalkInStatus.EXPIRED else "cancelled",
        now=now,
    )
    locked = db.session.scalar(
        sa.select(WalkIn)
        .where(WalkIn.id == walk_in.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    if locked.ticket_id is None and locked.status is WalkInStatus.AWAITING_PAYMENT:
        locked.status = status
        db.session.flush()


def expire_walk_ins(*, now: datetime) -> int:
    """Void the orders of walk-ins whose payment did not come in time."""
    due = db.session.scalars(
        sa.select(WalkIn)
        .where(WalkIn.status == WalkInStatus.AWAITING_PAYMENT, WalkIn.expires_at <= now)
        .order_by(WalkIn.id)
        .limit(500)
    ).all()
    for walk_in in due:
        _void_walk_in(walk_in, WalkInStatus.EXPIRED, now=now)
    return len(due)
