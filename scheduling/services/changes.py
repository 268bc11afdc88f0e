"""Change an appointment: cancel, reschedule, add on, check in, complete."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.patients.access import Permission
from hospital.patients.models import Patient
from scheduling.models import Appointment, AppointmentState, SessionStatus, Slot
from scheduling.services import offers
from scheduling.services.booking import (
    _announce_booking,
    _check_bookable,
    _check_limits,
    _get_appointment,
    _insert_appointment,
    _lock_booker,
    _taken,
)
from scheduling.services.places import (
    _end_appointment,
    _expire_cached,
    _give_back_place,
    _take_place,
    effective_state,
    release_lapsed_holds_on_slot,
)
from scheduling.services.rules import Rules, _is_desk_staff, hospital_zone, rules_for
from scheduling.slots import cancel_cutoff


def _get_slot(hospital_id: int, slot_id: int) -> Slot:
    slot = db.session.get(Slot, slot_id)
    if slot is None or slot.hospital_id != hospital_id:
        raise NotFound(
            _l("No such slot. Search again for free times."), code=ErrorCode.SLOT_NOT_FOUND
        )
    return slot


def patient_cancel_deadline(appointment: Appointment, zone: ZoneInfo, rules: Rules) -> datetime:
    return cancel_cutoff(
        appointment.local_date, rules.cancel_cutoff_days_before, rules.cancel_cutoff_time, zone
    )


def cancel(appointment_id: int, *, actor: Account, now: datetime, reason: str = "") -> Appointment:
    """Cancel a hold or booking: patients until the cut-off, desk staff at any time with a reason."""
    appointment = _get_appointment(appointment_id, Permission.BOOK, actor=actor)
    desk = _is_desk_staff(actor=actor)
    state = effective_state(appointment, now=now)
    if state not in (AppointmentState.HELD, AppointmentState.BOOKED):
        raise Conflict(
            _l(
                "This appointment cannot be cancelled any more (it is %(state)s).",
                state=state.value,
            ),
            code=ErrorCode.NOT_CANCELLABLE,
        )
    if desk:
        if not reason.strip():
            raise InvalidInput(
                _l("Give a reason for cancelling on the patient's behalf."),
                code=ErrorCode.REASON_REQUIRED,
            )
    elif state is AppointmentState.BOOKED:
        rules = rules_for(appointment.hospital_id)
        deadline = patient_cancel_deadline(
            appointment, hospital_zone(appointment.hospital_id), rules
        )
        if now >= deadline:
            raise Conflict(
                _l(
                    "Online cancellation closed at the cut-off. Please contact the "
                    "registration desk."
                ),
                code=ErrorCode.CANCELLATION_CLOSED,
            )
    if desk:
        why, refund = "hospital_cancelled", "full"
    else:
        why, refund = "patient_cancelled", ("full" if state is AppointmentState.BOOKED else "none")
    ended = _end_appointment(
        appointment.id,
        to_state=AppointmentState.CANCELLED,
        from_states=(AppointmentState.HELD, AppointmentState.BOOKED),
        reason=why,
        refund=refund,
        actor=actor,
        note=reason,
        now=now,
    )
    if not ended:
        raise Conflict(
            _l("This appointment was changed at the same time. Reload and try again."),
            code=ErrorCode.APPOINTMENT_CHANGED,
        )
    if desk:
        record(
            action="scheduling.appointment_cancelled_by_staff",
            actor=actor,
            object_type="appointment",
            object_id=str(appointment.id),
            patient_id=appointment.patient_id,
            detail={"reason": reason},
        )
    db.session.refresh(appointment)
    return appointment


def reschedule(
    appointment_id: int, *, actor: Account, new_slot_id: int, now: datetime
) -> Appointment:
    """Move a booking to another slot in one transaction, keeping its payment."""
    appointment = _get_appointment(appointment_id, Permission.BOOK, actor=actor)
    if effective_state(appointment, now=now) is not AppointmentState.BOOKED:
        raise Conflict(
            _l("Only a confirmed booking can be rescheduled."), code=ErrorCode.NOT_RESCHEDULABLE
        )
    rules = rules_for(appointment.hospital_id)
    desk = _is_desk_staff(actor=actor)
    if appointment.reschedule_count >= rules.reschedule_limit:
        raise Conflict(
            _l(
                "This booking has been rescheduled %(n)d times, the most allowed. Cancel it "
                "and book again.",
                n=appointment.reschedule_count,
            ),
            code=ErrorCode.RESCHEDULE_LIMIT,
        )
    zone = hospital_zone(appointment.hospital_id)
    if not desk and now >= patient_cancel_deadline(appointment, zone, rules):
        raise Conflict(
            _l("Online changes closed at the cut-off. Please contact the registration desk."),
            code=ErrorCode.RESCHEDULE_CLOSED,
        )
    new_slot = _get_slot(appointment.hospital_id, new_slot_id)
    if new_slot.id == appointment.slot_id:
        raise InvalidInput(_l("Choose a different slot."), code=ErrorCode.SAME_SLOT)
    _check_bookable(new_slot, now=now)
    if (new_slot.session.fee_fen, new_slot.session.fee_class) != (
        appointment.fee_fen,
        appointment.fee_class,
    ):
        raise InvalidInput(
            _l("Choose a slot with the same fee, so the payment can be kept."),
            code=ErrorCode.FEE_DIFFERS,
        )
    _lock_booker(actor.id, appointment.patient_id)
    _check_limits(
        appointment.patient_id,
        actor=actor,
        session_id=new_slot.session_id,
        local_date=new_slot.local_date,
        now=now,
        desk=True,  # moving a booking neither adds one nor books anew online
        ignore_appointment_id=appointment.id,
    )
    if not _take_place(new_slot.id) and not (
        release_lapsed_holds_on_slot(new_slot.id, now=now) and _take_place(new_slot.id)
    ):
        raise _taken()
    old_slot_id = appointment.slot_id
    try:
        moved = execute_dml(
            sa.update(Appointment)
            .where(
                Appointment.id == appointment.id,
                Appointment.state == AppointmentState.BOOKED,
                Appointment.slot_id == old_slot_id,
                Appointment.reschedule_count == appointment.reschedule_count,
            )
            .values(
                slot_id=new_slot.id,
                session_id=new_slot.session_id,
                local_date=new_slot.local_date,
                reschedule_count=Appointment.reschedule_count + 1,
                sequence=Appointment.sequence + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    except IntegrityError as exc:
        raise Conflict(
            _l("This patient already has an appointment in that session."),
            code=ErrorCode.ALREADY_BOOKED_IN_SESSION,
        ) from exc
    if moved != 1:
        # Cancelled or moved by a concurrent request: the caller rolls back the place taken above.
        raise Conflict(
            _l("This appointment was changed at the same time. Reload and try again."),
            code=ErrorCode.APPOINTMENT_CHANGED,
        )
    _give_back_place(old_slot_id)
    _expire_cached(Slot, old_slot_id)
    _expire_cached(Slot, new_slot.id)
    offers.place_freed(old_slot_id, reason="rescheduled", now=now)
    db.session.refresh(appointment)
    record(
        action="scheduling.appointment_rescheduled",
        actor=actor,
        object_type="appointment",
        object_id=str(appointment.id),
        patient_id=appointment.patient_id,
        detail={"from_slot": old_slot_id, "to_slot": new_slot.id},
    )
    return appointment


def add_on(
    *, actor: Account, slot_id: int, patient_id: int, reason: str, now: datetime
) -> Appointment:
    """Overbook a slot explicitly ("加号"): one more place for this patient, with a reason, audited."""
    if not actor.has_role(Role.REGISTRAR, Role.ADMIN, Role.CLINICIAN):
        raise Forbidden(
            _l("Only clinic staff may add an appointment."), code=ErrorCode.ROLE_REQUIRED
        )
    if not reason.strip():
        raise InvalidInput(
            _l("Give a reason for the add-on appointment."), code=ErrorCode.REASON_REQUIRED
        )
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such patient."), code=ErrorCode.PATIENT_NOT_FOUND)
    slot = _get_slot(actor.hospital_id, slot_id)
    if slot.session.status is not SessionStatus.OPEN:
        raise Conflict(_l("This session has been cancelled."), code=ErrorCode.SESSION_CANCELLED)
    if slot.session.ends_at <= now:
        raise InvalidInput(_l("This session is over."), code=ErrorCode.SESSION_OVER)
    _lock_booker(actor.id, patient.id)
    _check_limits(
        patient.id,
        actor=actor,
        session_id=slot.session_id,
        local_date=slot.local_date,
        now=now,
        desk=True,
    )
    db.session.execute(
        sa.update(Slot)
        .where(Slot.id == slot.id)
        .values(booked=Slot.booked + 1, addon_allowance=Slot.addon_allowance + 1)
        .execution_options(synchronize_session=False)
    )
    appointment = _insert_appointment(
        slot,
        patient,
        actor=actor,
        now=now,
        state=AppointmentState.BOOKED,
        is_addon=True,
        addon_reason=reason[:200],
        booked_at=now,
    )
    _expire_cached(Slot, slot.id)
    record(
        action="scheduling.add_on",
        actor=actor,
        object_type="appointment",
        object_id=str(appointment.id),
        patient_id=patient.id,
        detail={"slot_id": slot.id, "reason": reason},
    )
    _announce_booking(appointment, now=now)
    return appointment


def check_in(appointment_id: int, *, actor: Account | None, now: datetime) -> Appointment:
    """Mark a booking as arrived, within the session's check-in window."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or (actor is not None and appointment.hospital_id != actor.hospital_id):
        raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
    session = appointment.slot.session
    opens = appointment.slot.starts_at - timedelta(minutes=session.checkin_opens_minutes)
    closes = appointment.slot.starts_at + timedelta(minutes=session.checkin_closes_minutes)
    if not opens <= now <= closes:
        raise Conflict(
            _l(
                "Check-in is open from %(opens)s minutes before to %(closes)s minutes after the "
                "appointment time.",
                opens=session.checkin_opens_minutes,
                closes=session.checkin_closes_minutes,
            ),
            code=ErrorCode.OUTSIDE_CHECKIN_WINDOW,
        )
    changed = execute_dml(
        sa.update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.state == AppointmentState.BOOKED)
        .values(state=AppointmentState.CHECKED_IN, checked_in_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(appointment)
    if changed != 1 and appointment.state is not AppointmentState.CHECKED_IN:
        raise Conflict(_l("Only a confirmed booking can be checked in."), code=ErrorCode.NOT_BOOKED)
    return appointment


def complete(appointment_id: int, *, actor: Account | None, now: datetime) -> Appointment:
    """Mark a checked-in appointment as seen."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or (actor is not None and appointment.hospital_id != actor.hospital_id):
        raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
    changed = execute_dml(
        sa.update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.state == AppointmentState.CHECKED_IN)
        .values(state=AppointmentState.COMPLETED, completed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(appointment)
    if changed != 1 and appointment.state is not AppointmentState.COMPLETED:
        raise Conflict(
            _l("Only a checked-in appointment can be completed."), code=ErrorCode.NOT_CHECKED_IN
        )
    return appointment


def reopen_completed(appointment_id: int, *, actor: Account | None, now: datetime) -> bool:
    """Put a completed appointment back to checked in (the counter undid its completion)."""
    changed = execute_dml(
        sa.update(Appointment)
        .where(Appointment.id == appointment_id, Appointment.state == AppointmentState.COMPLETED)
        .values(state=AppointmentState.CHECKED_IN, completed_at=None)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return bool(changed == 1)
