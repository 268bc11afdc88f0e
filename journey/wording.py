"""The visit's next step and timeline in the reader's language (zh or en)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext

from hospital.money import format_fen
from journey.steps import Entry, EntryKind, NextStep, Place, StepKind


def _(text: str, **values: object) -> str:
    """gettext, typed (flask-babel ships no types)."""
    return str(gettext(text, **values))


def place_name(place: Place | None, lang: str) -> str:
    if place is None:
        return ""
    return (place.name_en or place.name_zh) if lang == "en" else (place.name_zh or place.name_en)


def directions(place: Place | None, lang: str) -> str:
    if place is None:
        return ""
    return (
        (place.directions_en or place.directions_zh)
        if lang == "en"
        else (place.directions_zh or place.directions_en)
    )


def where(place: Place | None) -> str:
    """Building, floor and room in one line (empty parts left out)."""
    if place is None:
        return ""
    parts = []
    if place.building:
        parts.append(_("Building %(b)s", b=place.building))
    if place.floor:
        parts.append(_("Floor %(f)s", f=place.floor))
    if place.room:
        parts.append(_("Room %(r)s", r=place.room))
    return " · ".join(parts)


def _eta(low: int | None, high: int | None) -> str:
    if low is None or high is None:
        return ""
    return _("about %(low)s–%(high)s minutes", low=low, high=high)


def _time(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M") if at else ""


def step_title(step: NextStep, zone: ZoneInfo) -> str:
    """The next step in one short sentence, for large type."""
    kind = step.kind
    if kind is StepKind.GO_NOW:
        return _(
            "It is your turn: go to room %(room)s now", room=step.place.room if step.place else ""
        )
    if kind is StepKind.BEING_SEEN:
        return _("You are being seen")
    if kind is StepKind.PAY_REGISTRATION:
        return _(
            "Pay the registration fee %(amount)s to book", amount=format_fen(step.amount_fen or 0)
        )
    if kind is StepKind.PAY_ORDERS:
        return _(
            "Pay %(amount)s for what the doctor ordered", amount=format_fen(step.amount_fen or 0)
        )
    if kind is StepKind.WAIT:
        if step.ahead == 0:
            return _("Number %(code)s: you are next", code=step.ticket_code)
        if step.ahead is not None:
            return _("Number %(code)s: %(n)s ahead of you", code=step.ticket_code, n=step.ahead)
        return _("Number %(code)s: please wait to be called", code=step.ticket_code)
    if kind is StepKind.CHECK_IN:
        return _("Check in when you arrive (appointment at %(time)s)", time=_time(step.at, zone))
    if kind is StepKind.REPORT_PENDING:
        return _("Your report is being prepared: we will tell you when it is ready")
    if kind is StepKind.READ_REPORT:
        return _("Your report is ready: read it online")
    if kind is StepKind.DONE:
        return _("Your visit is complete")
    return _("Nothing to do for this visit")


def step_detail(step: NextStep) -> str:
    """The second line: how long, or how to do it without a window or desk."""
    kind = step.kind
    if kind is StepKind.WAIT:
        return _eta(step.eta_low, step.eta_high)
    if kind is StepKind.CHECK_IN:
        return _("Scan your visit code at a kiosk, or show it at the clinic: no window, no line.")
    if kind in (StepKind.PAY_ORDERS, StepKind.PAY_REGISTRATION):
        return _("Pay from this phone: no cashier's window.")
    if kind is StepKind.GO_NOW:
        return _("Show your visit code at the door if asked.")
    return ""


def station_name(station: str) -> str:
    if station == "lab_draw":
        return _("Blood draw")
    if station == "pharmacy":
        return _("Pharmacy")
    if station == "imaging":
        return _("Imaging")
    return _("Clinic")


def entry_text(entry: Entry, lang: str) -> str:
    """One timeline line."""
    kind = entry.kind
    place = place_name(entry.place, lang)
    if kind is EntryKind.BOOKED:
        return _("Booked: %(place)s", place=place) if place else _("Booked")
    if kind is EntryKind.PAID:
        if entry.done:
            return _("Registration fee paid: %(amount)s", amount=format_fen(entry.amount_fen or 0))
        return _("Registration fee due: %(amount)s", amount=format_fen(entry.amount_fen or 0))
    if kind is EntryKind.CHECKED_IN:
        text = _("Checked in: number %(code)s", code=entry.ticket_code)
        if entry.ahead is not None:
            text += _(", %(n)s ahead", n=entry.ahead)
            eta = _eta(entry.eta_low, entry.eta_high)
            if eta:
                text += _(", %(eta)s", eta=eta)
        return text
    if kind is EntryKind.CALLED:
        room = entry.place.room if entry.place else ""
        return _("Called to room %(room)s", room=room)
    if kind is EntryKind.SEEN:
        return _("Seen by the doctor")
    if kind is EntryKind.ORDERED:
        names = ("; " if lang == "en" else "；").join(
            f"{(line.name_en or line.name_zh) if lang == 'en' else (line.name_zh or line.name_en)}"
            f" {format_fen(line.amount_fen)}"
            for line in entry.lines
        )
        return _("Ordered: %(items)s", items=names)
    if kind is EntryKind.ORDER_PAID:
        if entry.done:
            return _("Paid: %(amount)s", amount=format_fen(entry.amount_fen or 0))
        return _("To pay: %(amount)s", amount=format_fen(entry.amount_fen or 0))
    if kind is EntryKind.STATION:
        text = _(
            "%(station)s: number %(code)s",
            station=station_name(entry.station),
            code=entry.ticket_code,
        )
        if entry.ahead is not None:
            text += _(", %(n)s ahead", n=entry.ahead)
        return text
    if kind is EntryKind.CONSULT_ASKED:
        return _("Asked the doctor online (no. %(number)s)", number=entry.extra.get("consultation"))
    if kind is EntryKind.CONSULT_ANSWERED:
        return _(
            "The doctor answered online (no. %(number)s)", number=entry.extra.get("consultation")
        )
    if kind is EntryKind.REPORT_PENDING:
        return _("Report in preparation: %(title)s", title=entry.title)
    return _("Report ready: %(title)s", title=entry.title)
