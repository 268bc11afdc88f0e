"""Desk slips: the kiosk prints a code for a walk-in without a phone; the desk scans it."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.organisation.models import ServicePoint
from queueing import desk_slips

# A slip is for today's visit: the desk refuses one printed longer ago than this.
SLIP_VALID_FOR = timedelta(hours=12)


def _key() -> str:
    return str(current_app.config["SECRET_KEY"])


def code_for_desk_slip(*, hospital_id: int, service_point_id: int | None, now: datetime) -> str:
    """The code a desk slip carries: its queue (if one is open) and the minute it was printed."""
    return desk_slips.desk_slip_code(_key(), hospital_id, service_point_id, now)


def point_of_desk_slip(*, hospital_id: int, code: str, now: datetime) -> ServicePoint | None:
    """The service point a scanned desk slip names (None: the slip names no queue).

    Refuses a code that is not a genuine slip of this hospital, or one printed too long ago.
    """
    claim = desk_slips.read_desk_slip_code(_key(), code)
    if claim is None or claim.hospital_id != hospital_id:
        raise InvalidInput(
            _l(
                "This is not a desk slip of this hospital. Scan the code on the kiosk's slip again."
            ),
            code=ErrorCode.DESK_SLIP_INVALID,
        )
    if now - claim.printed_at > SLIP_VALID_FOR or claim.printed_at - now > timedelta(minutes=5):
        raise InvalidInput(
            _l("This desk slip is from an earlier day. Ask which department the patient needs."),
            code=ErrorCode.DESK_SLIP_INVALID,
        )
    if not claim.service_point_id:
        return None
    point = db.session.get(ServicePoint, claim.service_point_id)
    if point is None or point.hospital_id != hospital_id or not point.is_active:
        return None
    return point
