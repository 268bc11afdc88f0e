"""The kiosk API (/api/v1/kiosk): kiosk devices act for patients at the hall; staff manage them.

Every patient call carries its own proof (a scanned appointment code, an identity number, or a
short-lived confirmation of a texted code): the kiosk keeps no one signed in.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, url_for
from flask_babel import get_locale
from flask_smorest import Blueprint

from hospital.accounts.guards import (
    access,
    current_device,
    require_device,
    require_signed_in,
    signed_in_account,
)
from hospital.accounts.models import STAFF_ROLES, Device, DeviceKind, Role
from hospital.billing.pricing import fen_to_yuan
from hospital.db import db, utcnow
from hospital.errors import NotFound
from hospital.patients.identity import mask_name, mask_phone
from hospital.pdf import render_pdf
from hospital.qr import qr_svg
from hospital.visits.codes import looks_like_visit_code
from hospital.visits.services import resolve_code
from hospital.web.api_docs import file_response
from hospital.zones import zone_for
from kiosk.models import HelpRequest
from kiosk.printing.slip import TicketSlip
from kiosk.schemas import (
    KioskAppointmentsOut,
    KioskBookArgs,
    KioskBookingOut,
    KioskBookingStatusArgs,
    KioskBookingStatusOut,
    KioskCheckInArgs,
    KioskDepartmentOut,
    KioskDeskSlipArgs,
    KioskDeskSlipOut,
    KioskHeartbeatOut,
    KioskHelpRequestOut,
    KioskOut,
    KioskPrinterArgs,
    KioskPrintOut,
    KioskProofArgs,
    KioskReportOut,
    KioskReprintArgs,
    KioskSendCodeArgs,
    KioskSentCodeOut,
    KioskTicketOut,
    KioskVerifyCodeArgs,
    KioskWalkInArgs,
    KioskWalkInPaymentOut,
    RegisteredKioskOut,
    RegisterKioskArgs,
    SameDayChoiceOut,
    SameDayNumberArgs,
    SameDayNumberOut,
)
from kiosk.services import check_in as kiosk_check_in
from kiosk.services import (
    devices,
    identity,
    phone_numbers,
    report_printing,
    same_day_booking,
    slips,
    walk_ins,
)
from kiosk.services.devices import hospital_of
from queueing.queries import people_ahead

blp = Blueprint("kiosk", __name__, description="Self-service kiosks in the hospital hall.")


def _lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def _pick(zh: str, en: str) -> str:
    return (en or zh) if _lang() == "en" else (zh or en)


def _kiosk_device() -> Device:
    device = current_device()
    assert device is not None  # require_device ran first
    return device


def _confirmed_phone(args: dict[str, Any]) -> tuple[Device, str]:
    """This kiosk and the phone its caller confirmed with a texted code."""
    device = _kiosk_device()
    return device, identity.confirmed_phone(device, args["confirmation"])


def _patients(device: Device, args: dict[str, Any]) -> list[int]:
    """The patients the caller proved to be (an identity number, or a confirmed phone)."""
    if args.get("id_number"):
        # An unknown number finds no one: the caller answers as for nothing today (no probing).
        patient = identity.patient_for_identity(device, args["id_number"], now=utcnow())
        return [patient.id] if patient else []
    if args.get("confirmation"):
        phone = identity.confirmed_phone(device, args["confirmation"])
        return [p.id for p in identity.patients_for_phone(device.hospital_id, phone)]
    return []


def _nothing_today(device: Device, args: dict[str, Any]) -> NotFound:
    """One answer whether or not an identity number is known: nothing today, go to the desk."""
    if args.get("id_number"):
        identity.keep_fruitless_lookup(device)
    return identity.no_appointment_today()


def _appointments(
    device: Device, patient_ids: list[int], confirmation: str | None, args: dict[str, Any]
) -> dict[str, Any]:
    now = utcnow()
    choices = identity.todays_appointments(device.hospital_id, patient_ids, now=now)
    if not choices:
        raise _nothing_today(device, args)
    zone = zone_for(hospital_of(device.hospital_id))
    return {
        "confirmation": confirmation,
        "appointments": [
            {
                "appointment_id": c.appointment_id,
                "starts_at": c.starts_at,
                "time": c.starts_at.astimezone(zone).strftime("%H:%M"),
                "masked_name": c.masked_name,
                "department": _pick(c.department_zh, c.department_en),
                "clinician": _pick(c.clinician_zh, c.clinician_en),
                "checked_in": c.checked_in,
            }
            for c in choices[:6]
        ],
    }


def _visit_qr(slip: TicketSlip) -> str:
    return qr_svg(slip.visit_code, box_size=6, border=2) if slip.visit_code else ""


def slip_html(slip: TicketSlip) -> str:
    return render_template(
        "kiosk/_slip.html", slip=slip, qr=qr_svg(slip.url, box_size=4), visit_qr=_visit_qr(slip)
    )


def ticket_pdf(slip: TicketSlip) -> bytes:
    html = render_template(
        "kiosk/ticket_pdf.html",
        slip=slip,
        qr=qr_svg(slip.url, box_size=4),
        visit_qr=_visit_qr(slip),
    )
    return render_pdf(html)


def _ticket_out(issued: kiosk_check_in.IssuedTicket) -> dict[str, Any]:
    ticket = issued.ticket
    slip = slips.ticket_slip(ticket, ahead=issued.ahead, now=utcnow())
    return {
        "code": ticket.code,
        "token": ticket.token,
        "new": issued.new,
        "ahead": issued.ahead,
        "url": slip.url,
        "slip_html": slip_html(slip),
        "pdf_url": url_for("kiosk.ticket_pdf_file", token=ticket.token),
    }


# ---- the kiosk itself ---------------------------------------------------------------------


@blp.route("/heartbeat", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.response(200, KioskHeartbeatOut)
def heartbeat() -> dict[str, Any]:
    """The kiosk is alive (the page calls this; staff see the last contact)."""
    kiosk = devices.touch(_kiosk_device(), now=utcnow())
    return {"ok": True, "printer_state": kiosk.printer_state.value}


@blp.route("/help", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.response(201, KioskHelpRequestOut)
def call_staff() -> dict[str, Any]:
    """Call staff to this kiosk."""
    device = _kiosk_device()
    request = devices.call_staff(device, now=utcnow())
    return _help_out(request, device)


@blp.route("/codes", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskSendCodeArgs)
@blp.response(201, KioskSentCodeOut)
def send_code(args: dict[str, Any]) -> dict[str, Any]:
    """Text a one-time code to the patient's phone."""
    wait = identity.send_code(
        _kiosk_device(), args["phone"], language=args["language"], now=utcnow()
    )
    return {
        "masked_phone": mask_phone(identity.normalized_phone(args["phone"])),
        "wait_seconds": wait,
    }


@blp.route("/codes/verify", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskVerifyCodeArgs)
@blp.response(200, KioskAppointmentsOut)
def verify_code(args: dict[str, Any]) -> dict[str, Any]:
    """Check the texted code; answer with a confirmation and today's appointments (may be none)."""
    device = _kiosk_device()
    # A wrong try stays counted although this request rolls back (accounts replays it).
    confirmation = identity.verify_code(device, args["phone"], args["code"], now=utcnow())
    phone = identity.normalized_phone(args["phone"])
    patient_ids = [p.id for p in identity.patients_for_phone(device.hospital_id, phone)]
    try:
        found = _appointments(device, patient_ids, confirmation, {})
    except NotFound:
        found = {"confirmation": confirmation, "appointments": []}
    found["people"] = [
        {"patient_id": p.id, "masked_name": mask_name(p.name), "is_self": p.phone == phone}
        for p in identity.people_for_phone(device.hospital_id, phone)
    ]
    return found


@blp.route("/appointments", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskProofArgs)
@blp.response(200, KioskAppointmentsOut)
def appointments(args: dict[str, Any]) -> dict[str, Any]:
    """Today's appointments of the identified patient."""
    device = _kiosk_device()
    return _appointments(device, _patients(device, args), args.get("confirmation"), args)


@blp.route("/check-in", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskCheckInArgs)
@blp.response(200, KioskTicketOut)
def check_in(args: dict[str, Any]) -> dict[str, Any]:
    """Check in by the appointment's QR, or an appointment of the identified patient."""
    device = _kiosk_device()
    if args.get("code") and looks_like_visit_code(args["code"]):
        return _ticket_out(
            kiosk_check_in.check_in_with_visit_code(device, args["code"], now=utcnow())
        )
    if args.get("code"):
        appointment_id = identity.appointment_from_code(device, args["code"])
    else:
        appointment_id = args["appointment_id"]
        allowed = {
            c.appointment_id
            for c in identity.todays_appointments(
                device.hospital_id, _patients(device, args), now=utcnow()
            )
        }
        if appointment_id not in allowed:
            raise _nothing_today(device, args)
    return _ticket_out(kiosk_check_in.check_in(device, appointment_id, now=utcnow()))


@blp.route("/walk-in/departments", methods=["GET"])
@require_device(DeviceKind.KIOSK)
@blp.response(200, KioskDepartmentOut(many=True))
def walk_in_departments() -> list[dict[str, Any]]:
    """Departments taking walk-in patients now."""
    return [
        {
            "department_id": c.department_id,
            "name": _pick(c.name_zh, c.name_en),
            "waiting": c.waiting,
            "queue": c.service_point_id is not None,
            "slot_today": c.slot_today,
            "fee": fen_to_yuan(c.queue_fee_fen) if c.queue_fee_fen > 0 else "",
        }
        for c in walk_ins.walk_in_departments(_kiosk_device(), now=utcnow())
    ]


@blp.route("/walk-in", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskWalkInArgs)
@blp.response(201, KioskTicketOut)
def walk_in(args: dict[str, Any]) -> dict[str, Any]:
    """A walk-in ticket for a department's queue today."""
    device = _kiosk_device()
    patient_ids = _patients(device, args)
    if args.get("id_number") and not patient_ids:
        identity.keep_fruitless_lookup(device)
        raise identity.no_record_for_walk_in()
    issued = walk_ins.walk_in(
        device,
        args["department_id"],
        patient_id=patient_ids[0] if patient_ids else None,
        now=utcnow(),
    )
    return _ticket_out(issued)


@blp.route("/walk-in/desk-slip", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskDeskSlipArgs)
@blp.response(200, KioskDeskSlipOut)
def desk_slip(args: dict[str, Any]) -> dict[str, Any]:
    """Print a slip for a walk-in without a phone: the department and fee, paid at the desk."""
    device = _kiosk_device()
    now = utcnow()
    slip = walk_ins.desk_slip(device, args["department_id"], now=now)
    outcome = slips.print_slip(device, slip, now=now)
    return {
        "department": _pick(slip.department_zh, slip.department_en),
        "department_zh": slip.department_zh,
        "department_en": slip.department_en,
        "fee": slip.fee,
        "issued_at": slip.issued_at,
        "printed": outcome.printed,
        "by_browser": outcome.by_browser,
        "printer_state": outcome.state.value,
        "message": outcome.message,
    }


@blp.route("/walk-in/book", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookArgs)
@blp.response(201, KioskBookingOut)
def book_walk_in(args: dict[str, Any]) -> dict[str, Any]:
    """Hold the department's next slot today for the confirmed phone; pay it from the phone."""
    device, phone = _confirmed_phone(args)
    booking = same_day_booking.book_walk_in(
        device, args["department_id"], phone=phone, now=utcnow(), patient_id=args["patient_id"]
    )
    zone = zone_for(hospital_of(device.hospital_id))
    return {
        "appointment_id": booking.appointment_id,
        "time": booking.starts_at.astimezone(zone).strftime("%H:%M"),
        **_payment_out(booking.fee_fen, booking.pay_url),
    }


def _payment_out(fee_fen: int, pay_url: str) -> dict[str, Any]:
    """The fee and the QR the patient scans with the phone to pay it (none when nothing is due)."""
    return {
        "fee": fen_to_yuan(fee_fen),
        "pay_url": pay_url,
        "pay_qr": qr_svg(pay_url, box_size=6) if pay_url else "",
    }


def _payment_status_out(issued: Any) -> dict[str, Any]:
    if issued is None:
        return {"paid": False, "ticket": None}
    return {"paid": True, "ticket": _ticket_out(issued)}


@blp.route("/walk-in/bookings/<int:appointment_id>", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookingStatusArgs)
@blp.response(200, KioskBookingStatusOut)
def walk_in_booking(args: dict[str, Any], appointment_id: int) -> dict[str, Any]:
    """Has the walk-in booking been paid? Then its ticket (the page polls this)."""
    device, phone = _confirmed_phone(args)
    return _payment_status_out(
        same_day_booking.walk_in_booking_ticket(device, appointment_id, phone=phone, now=utcnow())
    )


@blp.route("/walk-in/pay", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookArgs)
@blp.response(201, KioskWalkInPaymentOut)
def pay_walk_in(args: dict[str, Any]) -> dict[str, Any]:
    """Register in the department's queue and pay its fee from the confirmed phone."""
    device, phone = _confirmed_phone(args)
    started = walk_ins.start_paid_walk_in(
        device, args["department_id"], phone=phone, now=utcnow(), patient_id=args["patient_id"]
    )
    return {"walk_in_id": started.walk_in_id, **_payment_out(started.fee_fen, started.pay_url)}


@blp.route("/walk-in/payments/<int:walk_in_id>", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookingStatusArgs)
@blp.response(200, KioskBookingStatusOut)
def walk_in_payment(args: dict[str, Any], walk_in_id: int) -> dict[str, Any]:
    """Has the walk-in fee been paid? Then the ticket (the page polls this)."""
    device, phone = _confirmed_phone(args)
    return _payment_status_out(
        walk_ins.walk_in_ticket(device, walk_in_id, phone=phone, now=utcnow())
    )


@blp.route("/walk-in/payments/<int:walk_in_id>/cancel", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookingStatusArgs)
@blp.response(204)
def cancel_walk_in(args: dict[str, Any], walk_in_id: int) -> None:
    """The patient left the payment screen: void the unpaid fee."""
    device, phone = _confirmed_phone(args)
    walk_ins.cancel_walk_in(device, walk_in_id, phone=phone, now=utcnow())


@blp.route("/same-day", methods=["GET"])
@require_signed_in
@blp.response(200, SameDayChoiceOut(many=True))
def same_day_choices() -> list[dict[str, Any]]:
    """Departments giving same-day numbers to phones now (in their hours), and how many are left."""
    account = signed_in_account()
    return [
        {
            "department_id": c.choice.department_id,
            "name_zh": c.choice.name_zh,
            "name_en": c.choice.name_en,
            "waiting": c.choice.waiting,
            "fee": fen_to_yuan(c.choice.queue_fee_fen),
            "left": c.left,
        }
        for c in phone_numbers.same_day_departments(account.hospital_id, now=utcnow())
    ]


@blp.route("/same-day", methods=["POST"])
@require_signed_in
@blp.arguments(SameDayNumberArgs)
@blp.response(201, SameDayNumberOut)
@blp.alt_response(
    409,
    description="The department gives no same-day numbers now (`no_walk_in_queue`), or today's "
    "are all taken (`same_day_full`).",
)
def take_same_day_number(args: dict[str, Any]) -> dict[str, Any]:
    """Take a same-day number from the phone: pay the walk-in fee, and the number is issued."""
    started = phone_numbers.take_same_day_number(
        actor=signed_in_account(),
        department_id=args["department_id"],
        patient_id=args["patient_id"],
        now=utcnow(),
    )
    return {
        "walk_in_id": started.walk_in_id,
        "fee": fen_to_yuan(started.fee_fen),
        "pay_url": started.pay_url,
    }


@blp.route("/reports", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookingStatusArgs)
@blp.response(200, KioskReportOut(many=True))
def released_reports(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Released reports of the confirmed phone's owner and family (at most five)."""
    device, phone = _confirmed_phone(args)
    zone = zone_for(hospital_of(device.hospital_id))
    return [
        {
            "public_id": c.public_id,
            "title": c.title,
            "masked_name": c.masked_name,
            "released": c.released_at.astimezone(zone).strftime("%Y-%m-%d")
            if c.released_at
            else "",
        }
        for c in report_printing.released_reports(device, phone=phone)[:5]
    ]


@blp.route("/reports/<public_id>/pdf", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskBookingStatusArgs)
@blp.doc(**file_response("The report (PDF).", "application/pdf"))
def report_pdf(args: dict[str, Any], public_id: str) -> Response:
    """A released report's PDF, to print at the kiosk (POST: the confirmation stays out of URLs)."""
    device, phone = _confirmed_phone(args)
    data = report_printing.report_pdf(device, public_id, phone=phone, now=utcnow())
    return Response(data, mimetype="application/pdf", headers={"Cache-Control": "no-store"})


@blp.route("/reprint", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.arguments(KioskReprintArgs)
@blp.response(200, KioskTicketOut)
def reprint(args: dict[str, Any]) -> dict[str, Any]:
    """The identified patient's latest ticket of today (or the visit code's), to print again."""
    device = _kiosk_device()
    if args.get("code"):
        now = utcnow()
        visit = resolve_code(
            args["code"], hospital_id=device.hospital_id, station="kiosk", now=now, device=device
        )
        ticket = slips.last_ticket(device.hospital_id, [visit.patient_id], now=now)
        return _ticket_out(kiosk_check_in.IssuedTicket(ticket, False, people_ahead(ticket, now)))
    try:
        ticket = slips.last_ticket(device.hospital_id, _patients(device, args), now=utcnow())
    except NotFound:
        if args.get("id_number"):
            identity.keep_fruitless_lookup(device)
        raise
    return _ticket_out(kiosk_check_in.IssuedTicket(ticket, False, people_ahead(ticket, utcnow())))


@blp.route("/tickets/<token>/print", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.response(200, KioskPrintOut)
def print_ticket(token: str) -> dict[str, Any]:
    """Print a ticket on this kiosk's printer; a printer problem comes back in plain words."""
    device = _kiosk_device()
    now = utcnow()
    ticket = slips.ticket_for_kiosk(device, token)
    slip = slips.ticket_slip(ticket, ahead=people_ahead(ticket, now), now=now)
    outcome = slips.print_slip(device, slip, now=now)
    return {
        "printed": outcome.printed,
        "by_browser": outcome.by_browser,
        "printer_state": outcome.state.value,
        "message": outcome.message,
    }


@blp.route("/tickets/<token>/ticket.pdf", methods=["GET"])
@require_device(DeviceKind.KIOSK)
@blp.doc(**file_response("The ticket slip (80 mm PDF).", "application/pdf"))
def ticket_pdf_file(token: str) -> Response:
    """The ticket slip as an 80 mm PDF."""
    device = _kiosk_device()
    now = utcnow()
    ticket = slips.ticket_for_kiosk(device, token)
    slip = slips.ticket_slip(ticket, ahead=people_ahead(ticket, now), now=now)
    return Response(
        ticket_pdf(slip),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="ticket-{ticket.code}.pdf"'},
    )


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


def _help_out(request: HelpRequest, device: Device) -> dict[str, Any]:
    return {
        "id": request.id,
        "device_id": device.id,
        "kiosk_name": device.name,
        "location": request.location,
        "created_at": request.created_at,
        "resolved_at": request.resolved_at,
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
