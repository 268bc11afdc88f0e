"""Same-day numbers taken from the patient's own phone: pay the walk-in fee online, get the number.

A walk-in with no kiosk (device_id is None): the ticket is issued when billing reports the fee
paid (order reference `walk-in:<id>`), exactly as for a kiosk walk-in. Each queue gives out at most
KIOSK_PHONE_SAME_DAY_CAP such numbers a day, and only while the department's clinic is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, NotFound
from hospital.patients.access import Permission, patients_acting_for
from hospital.web.id_fields import is_id
from hospital.zones import day_bounds, local_date, zone_for
from kiosk.models import WalkIn, WalkInStatus
from kiosk.services.devices import config, hospital_of
from kiosk.services.walk_ins import (
    WalkInChoice,
    WalkInPayment,
    departments_taking_walk_ins,
    register_walk_in,
)
from queueing.services import queues
from scheduling.services.queries import department_in_hours


@dataclass(frozen=True)
class SameDayChoice:
    choice: WalkInChoice
    left: int  # numbers still to be had from the phone today


def _cap() -> int:
    return int(config("KIOSK_PHONE_SAME_DAY_CAP", 20))


def _taken(hospital_id: int, service_point_id: int, *, now: datetime) -> int:
    """Phone numbers of this queue today: ticketed, or registered and still within their pay time."""
    zone = zone_for(hospital_of(hospital_id))
    since, _until = day_bounds(local_date(now, zone), zone)
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(WalkIn)
            .where(
                WalkIn.hospital_id == hospital_id,
                WalkIn.service_point_id == service_point_id,
                WalkIn.device_id.is_(None),
                WalkIn.created_at >= since,
                sa.or_(
                    WalkIn.status == WalkInStatus.TICKETED,
                    sa.and_(
                        WalkIn.status == WalkInStatus.AWAITING_PAYMENT, WalkIn.expires_at > now
                    ),
                ),
            )
        )
        or 0
    )


def same_day_departments(hospital_id: int, *, now: datetime) -> list[SameDayChoice]:
    """Departments whose queue gives same-day numbers to phones now, with how many are left."""
    found = []
    for choice in departments_taking_walk_ins(hospital_id, now=now):
        if choice.service_point_id is None:
            continue
        if not department_in_hours(hospital_id, choice.department_id, now=now):
            continue
        left = max(0, _cap() - _taken(hospital_id, choice.service_point_id, now=now))
        found.append(SameDayChoice(choice, left))
    return found


def take_same_day_number(
    *, actor: Account, department_id: int, patient_id: int, now: datetime
) -> WalkInPayment:
    """Register the patient in the department's queue today; the number comes once paid."""
    patient = next(
        (p for p in patients_acting_for(actor, Permission.BOOK) if p.id == patient_id), None
    )
    if patient is None:
        raise NotFound(_l("No such patient."), code=ErrorCode.PATIENT_NOT_FOUND)
    choice = next(
        (
            c
            for c in departments_taking_walk_ins(actor.hospital_id, now=now)
            if is_id(department_id) and c.department_id == department_id
        ),
        None,
    )
    if (
        choice is None
        or choice.service_point_id is None
        or not department_in_hours(actor.hospital_id, department_id, now=now)
    ):
        raise Conflict(
            _l(
                "This department gives same-day numbers only while its clinic is open today. "
                "Choose another department or book a time."
            ),
            code=ErrorCode.NO_WALK_IN_QUEUE,
        )
    point_id = choice.service_point_id
    day = local_date(now, zone_for(hospital_of(actor.hospital_id)))
    queue = queues.find_queue(queues.active_service_point(actor.hospital_id, point_id), day)
    if queue is None:
        raise Conflict(
            _l("This service point has no open queue today. Open it first."),
            code=ErrorCode.QUEUE_NOT_OPEN,
        )
    # The queue's row lock makes the count and the new registration one step: concurrent
    # phones wait here, and each counts the others' committed registrations.
    queues.locked_queue(actor.hospital_id, queue.id)
    if _taken(actor.hospital_id, point_id, now=now) >= _cap():
        raise Conflict(
            _l("Today's same-day numbers for this department are all taken. Please book a time."),
            code=ErrorCode.SAME_DAY_FULL,
        )
    return register_walk_in(
        hospital_id=actor.hospital_id,
        device=None,
        department_id=department_id,
        service_point_id=point_id,
        patient_id=patient.id,
        account=actor,
        action="kiosk.phone_same_day_number",
        payment_key="phone-same-day",
        now=now,
    )
