"""Take and give back places in a slot, and let lapsed holds expire.

Capacity is taken and given back with one conditional UPDATE on the slot's counter, so two
requests can never both take the last place; the CHECK constraint on `slot` guards it again.
An appointment leaves an occupying state through a conditional UPDATE on its own state, and only
the request whose UPDATE changed the row gives its place back: a place is released exactly once.
A hold whose `hold_expires_at` has passed counts as expired everywhere, job or no job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hospital import events
from hospital.accounts.models import Account
from hospital.db import db, execute_dml
from scheduling import notices
from scheduling.models import Appointment, AppointmentState, Slot

_TAKE_PLACE = sa.text(
    "UPDATE slot SET booked = booked + 1 WHERE id = :slot_id AND booked < capacity"
)


def _take_place(slot_id: int) -> bool:
    """Take one place in the slot if one is free: the check and the increment are one statement."""
    return execute_dml(_TAKE_PLACE, {"slot_id": slot_id}).rowcount == 1


def _give_back_place(slot_id: int) -> None:
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == slot_id)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _end_appointment(
    appointment_id: int,
    *,
    to_state: AppointmentState,
    from_states: tuple[AppointmentState, ...],
    reason: str,
    refund: str,
    now: datetime,
    actor: Account | None = None,
    note: str = "",
    lapsed_only: bool = False,
) -> bool:
    """Move an appointment out of an occupying state and give its place back, exactly once.

    Returns False when another request got there first (the row was no longer in from_states).
    """
    values: dict[str, Any] = {"state": to_state, "sequence": Appointment.sequence + 1}
    if to_state is AppointmentState.EXPIRED:
        values["expired_at"] = now
    else:
        values.update(
            cancelled_at=now,
            cancelled_by_account_id=actor.id if actor is not None else None,
            cancel_reason=note[:200],
        )
    conditions = [Appointment.id == appointment_id, Appointment.state.in_(from_states)]
    if lapsed_only:
        conditions += [
            Appointment.state == AppointmentState.HELD,
            Appointment.hold_expires_at <= now,
        ]
    row = db.session.execute(
        sa.update(Appointment)
        .where(*conditions)
        .values(**values)
        .returning(Appointment.slot_id, Appointment.hospital_id, Appointment.patient_id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return False
    slot_id, hospital_id, patient_id = row
    _give_back_place(slot_id)
    _expire_cached(Appointment, appointment_id)
    _expire_cached(Slot, slot_id)
    events.appointment_cancelled.send(
        "scheduling",
        appointment_id=appointment_id,
        hospital_id=hospital_id,
        patient_id=patient_id,
        reason=reason,
        refund=refund,
        now=now,
    )
    if reason == "hospital_cancelled":
        notices.cancelled_by_hospital(appointment_id, note=note, now=now)
    return True


def _expire_cached(model: type, pk: int) -> None:
    """Make the session reload a row changed behind the ORM's back."""
    obj = db.session.identity_map.get(db.session.identity_key(model, pk))
    if obj is not None:
        db.session.expire(obj)


def release_lapsed_holds_on_slot(slot_id: int, *, now: datetime) -> int:
    ids = db.session.scalars(
        sa.select(Appointment.id).where(
            Appointment.slot_id == slot_id,
            Appointment.state == AppointmentState.HELD,
            Appointment.hold_expires_at <= now,
        )
    ).all()
    return sum(1 for appointment_id in ids if _expire_hold(appointment_id, now=now))


def _expire_hold(appointment_id: int, *, now: datetime) -> bool:
    return _end_appointment(
        appointment_id,
        to_state=AppointmentState.EXPIRED,
        from_states=(AppointmentState.HELD,),
        reason="expired",
        refund="none",
        now=now,
        lapsed_only=True,
    )


def release_expired_holds(*, now: datetime, limit: int = 1000) -> int:
    """Release every hold past its expiry (the job; reads treat them as expired anyway)."""
    ids = db.session.scalars(
        sa.select(Appointment.id)
        .where(Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at <= now)
        .order_by(Appointment.hold_expires_at)
        .limit(limit)
    ).all()
    return sum(1 for appointment_id in ids if _expire_hold(appointment_id, now=now))


def effective_state(appointment: Appointment, *, now: datetime) -> AppointmentState:
    """The state as everyone must see it: a hold past its expiry is expired, job or no job."""
    if (
        appointment.state is AppointmentState.HELD
        and appointment.hold_expires_at is not None
        and appointment.hold_expires_at <= now
    ):
        return AppointmentState.EXPIRED
    return appointment.state
