""" "I have arrived": a patient checks in from the phone by scanning the department's poster."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.organisation.models import ServicePoint
from hospital.patients.access import Permission, patients_acting_for
from hospital.web.id_fields import is_id
from queueing import posters
from queueing.models import Ticket
from queueing.services import issuing


def poster_code_of(point: ServicePoint) -> str:
    """The code printed on a service point's check-in poster."""
    return posters.poster_code(_key(), point.hospital_id, point.id)


def poster_link(code: str) -> str:
    """What the poster's QR carries: the page that checks the scanning patient in there."""
    base = str(current_app.config.get("PUBLIC_URL", "") or "")
    return f"{base.rstrip('/')}/arrive/{code}"


def _key() -> str:
    return str(current_app.config["SECRET_KEY"])


def point_of_poster(hospital_id: int, code: str) -> ServicePoint:
    """The active service point a scanned poster code names, in this hospital; 404 otherwise."""
    named = posters.read_poster_code(_key(), code)
    point = db.session.get(ServicePoint, named[1]) if named and named[0] == hospital_id else None
    if point is None or point.hospital_id != hospital_id or not point.is_active:
        raise NotFound(
            _l(
                "This is not a check-in poster of this hospital. Scan the QR poster at the "
                "entrance of your department."
            ),
            code=ErrorCode.POSTER_CODE_INVALID,
        )
    return point


def check_in_from_phone(
    *, actor: Account, appointment_id: int, poster_code: str, now: datetime
) -> tuple[Ticket, bool]:
    """Check the appointment in where the patient scanned the poster; the kiosk's own call."""
    from scheduling.services.queries import appointment_of_hospital, room_of_session

    if not poster_code:
        raise InvalidInput(
            _l(
                "Scan the check-in poster at the entrance of your department to check in from "
                "your phone."
            ),
            code=ErrorCode.POSTER_CODE_REQUIRED,
        )
    point = point_of_poster(actor.hospital_id, poster_code)
    allowed = {p.id for p in patients_acting_for(actor, Permission.BOOK)}
    appointment = (
        appointment_of_hospital(actor.hospital_id, appointment_id)
        if is_id(appointment_id)
        else None
    )
    if appointment is None or appointment.patient_id not in allowed:
        raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
    session = appointment.slot.session
    room = room_of_session(session)
    if point.id != room and point.department_id != session.department_id:
        raise Conflict(
            _l(
                "This poster is at another department. Go to the department of your "
                "appointment and scan the poster at its entrance."
            ),
            code=ErrorCode.POSTER_OTHER_DEPARTMENT,
        )
    # The check-in window and the appointment's state are scheduling's rules, checked there.
    ticket, created = issuing.check_in(
        actor=actor, hospital_id=actor.hospital_id, appointment_id=appointment.id, now=now
    )
    record(
        action="queue.phone_check_in",
        actor=actor,
        object_type="ticket",
        object_id=str(ticket.id),
        patient_id=ticket.patient_id,
        detail={"appointment_id": appointment.id, "service_point_id": point.id, "new": created},
    )
    return ticket, created
