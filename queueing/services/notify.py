"""Tell patients about their ticket: its link, the message templates, almost-your-turn."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, NotFound
from hospital.notifications.messages import MessageTemplate
from hospital.patients.models import Patient
from queueing import ordering
from queueing.models import ServiceQueue, Ticket
from queueing.services.line import InLine, line_heads, policy_for

MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    "queue.ticket_issued": MessageTemplate(
        subject=_l("Your number {code}"),
        body=_l("Your number at {place} is {code}. Follow your place in the queue here: {link}"),
    ),
    "queue.almost_turn": MessageTemplate(
        subject=_l("{ahead} ahead of number {code}"),
        body=_l(
            "{ahead} patients are ahead of number {code} at {place}. Please make your way to "
            "room {room}, floor {floor}. {link}"
        ),
    ),
    "queue.your_turn": MessageTemplate(
        subject=_l("Number {code}: your turn"),
        body=_l(
            "Number {code}: it is your turn. Please go to {place}, room {room}, floor {floor}. {directions}"
        ),
    ),
    "queue.missed": MessageTemplate(
        subject=_l("Number {code} was called"),
        body=_l(
            "Number {code} was called at {place} but you were not there. You have been moved back "
            "a few places: {link}"
        ),
    ),
}


def ticket_link(ticket: Ticket) -> str:
    base = current_app.config.get("PUBLIC_URL", "") if has_app_context() else ""
    return f"{base.rstrip('/')}/q/{ticket.token}"


def ticket_by_token(token: Any) -> Ticket:
    ticket = (
        db.session.scalar(sa.select(Ticket).where(Ticket.token == token))
        if isinstance(token, str) and 16 <= len(token) <= 43
        else None
    )
    if ticket is None:
        raise NotFound(
            _l("This ticket link is not valid. Scan the QR code on your ticket again."),
            code=ErrorCode.TICKET_NOT_FOUND,
        )
    return ticket


def set_notify_ahead(*, token: str, ahead: int) -> Ticket:
    """The patient picks at how many people ahead they want to be told to come."""
    ticket = ticket_by_token(token)
    if not 1 <= ahead <= 20:
        raise InvalidInput(
            _l("Pick a number between 1 and 20."), code=ErrorCode.NOTIFY_AHEAD_OUT_OF_RANGE
        )
    ticket.notify_ahead = ahead
    return ticket


def notify_ticket(
    ticket: Ticket,
    queue: ServiceQueue,
    patient: Patient,
    template: str,
    key: str,
    *,
    now: datetime,
    ahead: int = 0,
) -> None:
    from hospital.notifications.service import notify_patient
    from hospital.patients.access import Permission

    point = queue.service_point
    notify_patient(
        patient,
        template,
        {
            "code": ticket.code,
            "place": f"{point.name_zh} {point.name_en}",
            "room": point.room or point.code,
            "floor": point.floor or "-",
            "directions": point.directions_zh or point.directions_en,
            "link": ticket_link(ticket),
            "ahead": ahead,
        },
        now=now,
        dedupe_key=f"ticket:{ticket.id}:{key}",
        family_permission=Permission.BOOK,
    )


def maybe_notify_almost(
    queue: ServiceQueue, *, now: datetime, line: list[InLine] | None = None
) -> None:
    """Tell each waiting patient once when the people ahead drop to their chosen threshold."""
    if line is None:
        line, _expired = line_heads(queue.id, now=now)
    if not any(t.patient_id for t in line):
        return
    placements = ordering.order(
        [t.waiting for t in line],
        policy=policy_for(queue),
        regular_since_priority=queue.regular_since_priority,
        now=now,
    )
    by_id = {t.waiting.id: t for t in line if t.patient_id}
    for placement in placements:
        entry = by_id.get(placement.ticket.id)
        if entry is None or placement.position > entry.notify_ahead:
            continue
        ticket = db.session.get(Ticket, entry.waiting.id)
        patient = db.session.get(Patient, entry.patient_id)
        if ticket is not None and patient is not None:
            notify_ticket(
                ticket,
                queue,
                patient,
                "queue.almost_turn",
                "almost",
                now=now,
                ahead=placement.position,
            )
