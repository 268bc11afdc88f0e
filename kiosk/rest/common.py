"""The kiosk API's blueprint and what its route modules share: the device, proofs, slips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, url_for
from flask_babel import get_locale
from flask_smorest import Blueprint
from markupsafe import Markup

from hospital.accounts.guards import current_device
from hospital.accounts.models import Device
from hospital.db import utcnow
from hospital.errors import NotFound
from hospital.pdf import render_pdf
from hospital.qr import qr_png_data_uri, qr_svg
from hospital.zones import zone_for
from kiosk.models import HelpRequest
from kiosk.printing.slip import TicketSlip
from kiosk.services import check_in as kiosk_check_in
from kiosk.services import identity, slips
from kiosk.services.devices import hospital_of

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


def _render_slip(template: str, **context: Any) -> str:
    """A slip's template alone: it uses none of a page's context (the hospital, the account,
    the language), which render_template would look up, by queries, for every slip."""
    return current_app.jinja_env.get_template(template).render(**context)


def slip_html(slip: TicketSlip) -> str:
    return _render_slip(
        "kiosk/_slip.html", slip=slip, qr=qr_svg(slip.url, box_size=4), visit_qr=_visit_qr(slip)
    )


# The 80 mm ticket's styles: the slip's own (shared with the kiosk screen) and the paper's
# size, parsed once by render_pdf for every ticket.
TICKET_PDF_CSS = (
    "@page { size: 80mm 200mm; margin: 4mm; }\n"
    + (Path(__file__).parents[1] / "templates" / "kiosk" / "_slip.css").read_text()
    # On paper the place's parts keep together as unbreakable inline text: laid out like the
    # screen's inline blocks on an 80 mm line, without a block (and its widths) for each.
    + "\n.slip-place span { display: inline; white-space: nowrap; }\n"
)


def _qr_img(payload: str, *, border: int) -> Markup:
    """The QR code as a small PNG: WeasyPrint embeds it far faster than an SVG path."""
    return Markup('<img src="{}" alt="">').format(qr_png_data_uri(payload, border=border))


def ticket_pdf(slip: TicketSlip) -> bytes:
    html = _render_slip(
        "kiosk/ticket_pdf.html",
        paper=True,
        slip=slip,
        qr=_qr_img(slip.url, border=4),
        visit_qr=_qr_img(slip.visit_code, border=2) if slip.visit_code else "",
    )
    return render_pdf(html, css=(TICKET_PDF_CSS,))


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


def _help_out(request: HelpRequest, device: Device) -> dict[str, Any]:
    return {
        "id": request.id,
        "device_id": device.id,
        "kiosk_name": device.name,
        "location": request.location,
        "created_at": request.created_at,
        "resolved_at": request.resolved_at,
    }
