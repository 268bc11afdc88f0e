"""The kiosk in the hall: heartbeat and help, codes, check-in, walk-ins, same-day numbers,
reports and reprints. Every patient call carries its own proof; the kiosk keeps no one signed in.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from hospital.accounts.guards import require_device, require_signed_in, signed_in_account
from hospital.accounts.models import DeviceKind
from hospital.billing.pricing import fen_to_yuan
from hospital.db import utcnow
from hospital.errors import NotFound
from hospital.patients.identity import mask_name, mask_phone
from hospital.qr import qr_svg
from hospital.visits.codes import looks_like_visit_code
from hospital.visits.services import resolve_code
from hospital.web.api_docs import file_response
from hospital.zones import zone_for
from kiosk.rest.common import (
    _appointments,
    _confirmed_phone,
    _help_out,
    _kiosk_device,
    _nothing_today,
    _patients,
    _pick,
    _ticket_out,
    blp,
    ticket_pdf,
)
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
from scheduling.services.queries import index_letter

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
            "initial": index_letter(c.name_zh),
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
        "code": slip.code,
        "code_qr": qr_svg(slip.code, box_size=4, border=2),
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
    """Released reports of the confirmed phone's owner and family, newest first."""
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
        for c in report_printing.released_reports(device, phone=phone)
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
        return _ticket_out(
            kiosk_check_in.IssuedTicket(ticket, False, people_ahead(ticket, now=now))
        )
    try:
        ticket = slips.last_ticket(device.hospital_id, _patients(device, args), now=utcnow())
    except NotFound:
        if args.get("id_number"):
            identity.keep_fruitless_lookup(device)
        raise
    return _ticket_out(
        kiosk_check_in.IssuedTicket(ticket, False, people_ahead(ticket, now=utcnow()))
    )


@blp.route("/tickets/<token>/print", methods=["POST"])
@require_device(DeviceKind.KIOSK)
@blp.response(200, KioskPrintOut)
def print_ticket(token: str) -> dict[str, Any]:
    """Print a ticket on this kiosk's printer; a printer problem comes back in plain words."""
    device = _kiosk_device()
    now = utcnow()
    ticket = slips.ticket_for_kiosk(device, token)
    slip = slips.slip_to_print(ticket, now=now)
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
    slip = slips.slip_to_print(ticket, now=now)
    return Response(
        ticket_pdf(slip),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="ticket-{ticket.code}.pdf"'},
    )
