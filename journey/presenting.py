"""The visit as a plain dict in the reader's language, for the page and the API alike."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import get_locale

from hospital.db import db
from hospital.organisation.models import Hospital
from hospital.zones import local_date, zone_for
from journey import wording
from journey.services import VisitView
from journey.steps import Place


def reader_language() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def _place(place: Place | None, lang: str) -> dict[str, str] | None:
    if place is None:
        return None
    return {
        "name": wording.place_name(place, lang),
        "building": place.building,
        "floor": place.floor,
        "room": place.room,
        "directions": wording.directions(place, lang),
    }


def zone_of(hospital_id: int) -> ZoneInfo:
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None, "a visit names an existing hospital"
    return zone_for(hospital)


def visit_dict(view: VisitView, *, now: Any) -> dict[str, Any]:
    lang = reader_language()
    zone = zone_of(view.visit.hospital_id)
    step = view.next_step
    return {
        "code": view.visit.code,
        "service_date": view.visit.service_date,
        "masked_name": view.masked_name,
        "is_today": view.visit.service_date == local_date(now, zone),
        "next_step": {
            "kind": step.kind.value,
            "title": wording.step_title(step, zone),
            "detail": wording.step_detail(step),
            "where": wording.where(step.place),
            "place": _place(step.place, lang),
            "ticket_code": step.ticket_code,
            "ticket_token": step.ticket_token,
            "ahead": step.ahead,
            "eta_low_minutes": step.eta_low,
            "eta_high_minutes": step.eta_high,
            "amount_fen": step.amount_fen,
            "order_ids": list(step.order_ids),
            "at": step.at,
            "report_id": step.report_id,
        },
        "timeline": [
            {
                "kind": e.kind.value,
                "at": e.at,
                "time": e.at.astimezone(zone).strftime("%H:%M") if e.at else "",
                "done": e.done,
                "text": wording.entry_text(e, lang),
                "ticket_code": e.ticket_code,
                "station": e.station,
                "amount_fen": e.amount_fen,
            }
            for e in view.timeline
        ],
        "tickets": [
            {
                "code": t.code,
                "token": t.token,
                "status": t.status,
                "station": t.station,
                "ahead": t.ahead,
            }
            for t in view.facts.tickets
        ],
        "stops_avoided": view.visit.stops_avoided,
    }
