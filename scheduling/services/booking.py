"""Hold a place for a patient within the booking limits, and confirm the booking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital import events
from hospital.accounts.models import Account
from hospital.billing.references import OrderKind, OrderRef
from hospital.billing.services import orders
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.patients.access import Permission, require_patient_access, staff_grants
from hospital.patients.models import Patient
from scheduling import notices
from scheduling.models import (
    DEFAULT_RULES,
    Appointment,
    AppointmentState,
    SessionStatus,
    Slot,
)
from scheduling.services import hold_sql, row_objects
from scheduling.services.places import (
    _expire_cached,
    _expire_hold,
    _take_place,
    effective_state,
    release_lapsed_holds_on_slot,
)
from scheduling.services.rules import _is_desk_staff


def _already_in_session() -> Conflict:
    return Conflict(
        _l("This patient already has an appointment in this session."),
        code=ErrorCode.ALREADY_BOOKED_IN_SESSION,
    )


def _insert_appointment(
    slot: Slot, patient: Patient, *, actor: Account, now: datetime, **values: Any
) -> Appointment:
    """Add the patient's appointment in the slot at the session's fee (its place is taken)."""
    appointment = Appointment(
        hospital_id=slot.hospital_id,
        slot_id=slot.id,
        session_id=slot.session_id,
        local_date=slot.local_date,
        patient_id=patient.id,
        account_id=actor.id,
        fee_class=slot.session.fee_class,
        fee_fen=slot.session.fee_fen,
        created_at=now,
        **values,
    )
    db.session.add(appointment)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another request for the same patient and session won the race to the unique index.
        raise _already_in_session() from exc
    return appointment


def _check_bookable(slot: Slot, *, now: datetime) -> None:
    _check_bookable_values(
        status=slot.session.status,
        starts_at=slot.starts_at,
        release_at=slot.session.release_at,
        closes_at=slot.closes_at,
        now=now,
    )


def _check_bookable_values(
    *,
    status: SessionStatus,
    starts_at: datetime,
    release_at: datetime,
    closes_at: datetime,
    now: datetime,
) -> None:
    if status is not SessionStatus.OPEN:
        raise Conflict(
            _l("This session has been cancelled. Pick another time."),
            code=ErrorCode.SESSION_CANCELLED,
        )
    if starts_at <= now:
        raise InvalidInput(
            _l("This slot is in the past. Pick a later time."), code=ErrorCode.SLOT_IN_PAST
        )
    if now < release_at:
        raise InvalidInput(
            _l("Booking for this slot has not opened yet. Try again after it is released."),
            code=ErrorCode.NOT_RELEASED,
        )
    if now >= closes_at:
        raise InvalidInput(
            _l("Online booking for this slot has closed. Pick a later time."),
            code=ErrorCode.BOOKING_CLOSED,
        )


def _lock_booker(account_id: int, patient_id: int) -> None:
    """Serialise holds by the same account or for the same patient, so limits cannot be raced.

    On SQLite every write transaction is already serial (BEGIN IMMEDIATE).
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(
        sa.text(
            "SELECT 1 FROM account, patient WHERE account.id = :a AND patient.id = :p "
            "FOR NO KEY UPDATE"
        ),
        {"a": account_id, "p": patient_id},
    )


@dataclass(frozen=True)
class _Limits:
    lapsed_holds: int  # this patient's lapsed holds still sitting in the session
    hold_minutes: int


def _check_limits(
    patient_id: int,
    *,
    actor: Account,
    session_id: int,
    local_date: date,
    now: datetime,
    desk: bool,
    ignore_appointment_id: int | None = None,
) -> _Limits:
    """Check suspension, one-per-session and the per-day limits, counted in one query.

    The same query reads the hospital's limits (a hold needs no separate rules lookup).
    """
    (
        n_patient,
        n_account,
        n_session,
        n_suspended,
        n_lapsed,
        max_per_patient,
        max_per_account,
        hold_minutes,
    ) = db.session.execute(
        hold_sql.LIMITS,
        {
            "patient_id": patient_id,
            "account_id": actor.id,
            "hospital_id": actor.hospital_id,
            "session_id": session_id,
            "local_date": local_date,
            "now": now,
            "ignore_id": ignore_appointment_id or 0,
        },
    ).one()
    if max_per_patient is None:  # the hospital has not set its own rules
        max_per_patient = DEFAULT_RULES["max_active_per_patient_per_day"]
        max_per_account = DEFAULT_RULES["max_active_per_account_per_day"]
        hold_minutes = DEFAULT_RULES["hold_minutes"]
    if n_suspended and not desk:
        raise Forbidden(
            _l(
                "Online booking is suspended for this patient after repeated missed "
                "appointments. Please contact the registration desk."
            ),
            code=ErrorCode.PATIENT_SUSPENDED,
        )
    if n_session:
        raise _already_in_session()
    if n_patient >= max_per_patient:
        raise Conflict(
            _l(
                "This patient already has %(n)d appointments on that day, the most allowed.",
                n=n_patient,
            ),
            code=ErrorCode.PATIENT_DAILY_LIMIT,
        )
    if not desk and n_account >= max_per_account:
        raise Conflict(
            _l(
                "Your account already has %(n)d appointments on that day, the most one account "
                "may hold.",
                n=n_account,
            ),
            code=ErrorCode.ACCOUNT_DAILY_LIMIT,
        )
    return _Limits(lapsed_holds=n_lapsed, hold_minutes=hold_minutes)


def _taken() -> Conflict:
    return Conflict(_l("This slot was just taken. Pick another time."), code=ErrorCode.SLOT_FULL)


def _take_place_and_insert_hold(values: dict[str, Any]) -> int | None:
    """Take a place in the slot and insert the hold; its id, or None when the slot is full."""
    new_id: int | None
    try:
        if db.session.get_bind().dialect.name == "postgresql":
            new_id = db.session.execute(hold_sql.TAKE_PLACE_AND_INSERT_HOLD, values).scalar()
        elif _take_place(values["slot_id"]):
            new_id = db.session.execute(hold_sql.INSERT_HOLD, values).scalar_one()
        else:
            new_id = None
    except IntegrityError as exc:
        # Another request for the same patient and session won the race to the unique index.
        raise _already_in_session() from exc
    return new_id


def hold(
    *,
    actor: Account,
    patient_id: int,
    slot_id: int,
    now: datetime,
    hold_until: datetime | None = None,
) -> Appointment:
    """Reserve a place in a slot for a patient until the hold expires (or is confirmed).

    hold_until replaces the hospital's hold time (a waitlist offer's claim window).

    On PostgreSQL a successful hold runs two statements after sign-in: the slot with its
    session and the locked patient with the account's link, then the limits checked together
    with the place taken, the hold inserted and billing's order written
    (scheduling.services.hold_sql; billing's statements from its public orders module).
    Anything unusual (a refusal other than a full slot, lapsed holds to release) goes the
    ordinary way, which raises the right error. SQLite always goes the ordinary way.
    """
    if isinstance(patient_id, int) and db.session.get_bind().dialect.name == "postgresql":
        fast = _hold_fast(
            actor=actor, patient_id=patient_id, slot_id=slot_id, now=now, hold_until=hold_until
        )
        if fast is not None:
            return _announce_hold(fast, actor=actor, now=now, order_created=True)
    return _hold_checked(
        actor=actor, patient_id=patient_id, slot_id=slot_id, now=now, hold_until=hold_until
    )


def _hold_fast(
    *, actor: Account, patient_id: int, slot_id: int, now: datetime, hold_until: datetime | None
) -> Appointment | None:
    """The hold in two statements, its order included (PostgreSQL); None when the ordinary
    path must decide.

    Raises only "just taken" (whether a slot is full is public) and the bookable-window errors
    (read from the slot alone); every refusal about the patient is left to the ordinary path,
    which audits a denied access and words each limit's message.
    """
    row = db.session.execute(
        hold_sql.READ_AND_LOCK,
        {
            "slot_id": slot_id,
            "hospital_id": actor.hospital_id,
            "account_id": actor.id,
            "patient_id": patient_id,
            "now": now,
        },
    ).first()
    if row is None:
        return None  # no such slot here: NotFound, the ordinary way
    if row.slot_booked >= row.slot_capacity and not row.has_lapsed_holds:
        _check_bookable_values(
            status=row.cs_status,
            starts_at=row.slot_starts_at,
            release_at=row.cs_release_at,
            closes_at=row.slot_closes_at,
            now=now,
        )
        raise _taken()
    if row.patient_id is None or row.has_lapsed_holds:
        return None
    _check_bookable_values(
        status=row.cs_status,
        starts_at=row.slot_starts_at,
        release_at=row.cs_release_at,
        closes_at=row.slot_closes_at,
        now=now,
    )
    # The one access rule for BOOK (hospital.patients.access): an active account of the
    # patient's hospital, with a staff role that grants it or a family link that may book.
    # Anything else is decided (and a denial audited) by require_patient_access.
    if not (
        actor.is_active
        and actor.hospital_id == row.patient_hospital_id
        and (staff_grants(actor, Permission.BOOK) or row.link_can_book)
    ):
        return None
    hold_minutes = DEFAULT_RULES["hold_minutes"] if row.hold_minutes is None else row.hold_minutes
    values: dict[str, Any] = {
        "new_id": row.new_id,
        "hospital_id": row.slot_hospital_id,
        "slot_id": row.slot_id,
        "session_id": row.slot_session_id,
        "local_date": row.slot_local_date,
        "patient_id": patient_id,
        "account_id": actor.id,
        "fee_class": row.cs_fee_class.value,
        "fee_fen": row.cs_fee_fen,
        "now": now,
        "hold_expires_at": hold_until or now + timedelta(minutes=hold_minutes),
        "desk": _is_desk_staff(actor=actor),
    }
    statement = hold_sql.CHECK_TAKE_INSERT
    order = orders.registration_order_values(
        hospital_id=row.slot_hospital_id,
        patient_id=patient_id,
        appointment_id=row.new_id,
        fee_fen=row.cs_fee_fen,
        fee_class=row.cs_fee_class.value,
        expires_at=values["hold_expires_at"],
        account_id=actor.id,
        now=now,
    )
    if order is not None:  # billing's order is written by the same statement, with the hold
        fragment = orders.registration_order_fragment(hold_sql.NEW_HOLD)
        statement = hold_sql.check_take_insert_with(fragment)
        values.update(fragment.params(order))
    try:
        result = db.session.execute(statement, values).one()
    except IntegrityError as exc:
        # Another appointment of the patient in this session (completed, missed) holds the index.
        raise _already_in_session() from exc
    if result.new_id is None:
        if result.passed and not row.has_lapsed_holds:
            raise _taken()  # the last place went to another request between the statements
        return None  # a limit refused (or lapsed holds to release): the ordinary way says which
    slot = row_objects.slot_object(row)
    db.session.expire(slot, ["booked"])
    return row_objects.hold_object(
        result.new_id,
        slot,
        {**values, "fee_class_enum": row.cs_fee_class, "created_at": now},
    )


def _announce_hold(
    appointment: Appointment, *, actor: Account, now: datetime, order_created: bool
) -> Appointment:
    """Tell billing (the order, unless the hold's statement wrote it) and the metrics."""
    events.appointment_held.send(
        "scheduling",
        appointment_id=appointment.id,
        hospital_id=appointment.hospital_id,
        patient_id=appointment.patient_id,
        account_id=actor.id,
        fee_fen=appointment.fee_fen,
        fee_class=appointment.fee_class.value,
        expires_at=appointment.hold_expires_at,
        order_created=order_created,
        now=now,
    )
    return appointment


def _hold_checked(
    *,
    actor: Account,
    patient_id: int,
    slot_id: int,
    now: datetime,
    hold_until: datetime | None = None,
) -> Appointment:
    """The ordinary hold: each rule checked in Python, five statements after sign-in."""
    row = db.session.execute(hold_sql.SLOT_FOR_HOLD, {"slot_id": slot_id, "now": now}).first()
    if row is None or row[0].hospital_id != actor.hospital_id:
        raise NotFound(
            _l("No such slot. Search again for free times."), code=ErrorCode.SLOT_NOT_FOUND
        )
    slot, has_lapsed_holds = row
    _check_bookable(slot, now=now)
    # Fail fast when the slot was already full when read: most losers of a rush stop here, after
    # this one query (whether a slot is full is public; nothing about the patient is revealed).
    if slot.booked >= slot.capacity and not (
        has_lapsed_holds and release_lapsed_holds_on_slot(slot.id, now=now)
    ):
        raise _taken()
    patient = require_patient_access(
        actor, patient_id, Permission.BOOK, action="scheduling.hold", lock_rows=True
    )
    desk = _is_desk_staff(actor=actor)
    limits = _check_limits(
        patient.id,
        actor=actor,
        session_id=slot.session_id,
        local_date=slot.local_date,
        now=now,
        desk=desk,
    )
    if limits.lapsed_holds:
        # A lapsed hold of this patient in this session still occupies the unique index.
        for appointment_id in db.session.scalars(
            sa.select(Appointment.id).where(
                Appointment.patient_id == patient.id,
                Appointment.session_id == slot.session_id,
                Appointment.state == AppointmentState.HELD,
                Appointment.hold_expires_at <= now,
            )
        ).all():
            _expire_hold(appointment_id, now=now)
    session = slot.session
    values: dict[str, Any] = {
        "hospital_id": slot.hospital_id,
        "slot_id": slot.id,
        "session_id": slot.session_id,
        "local_date": slot.local_date,
        "patient_id": patient.id,
        "account_id": actor.id,
        "state": AppointmentState.HELD.value,
        "fee_class": session.fee_class.value,
        "fee_fen": session.fee_fen,
        "hold_expires_at": hold_until or now + timedelta(minutes=limits.hold_minutes),
        "created_at": now,
    }
    # The slot's row stays locked from the take to the commit: the take comes last but for
    # billing's order. If the order fails, the caller's rollback gives the place back too.
    new_id = _take_place_and_insert_hold(values)
    if new_id is None and release_lapsed_holds_on_slot(slot.id, now=now):
        new_id = _take_place_and_insert_hold(values)
    if new_id is None:
        raise _taken()
    db.session.expire(slot, ["booked"])
    appointment = row_objects.hold_object(
        new_id, slot, {**values, "fee_class_enum": session.fee_class}
    )
    return _announce_hold(appointment, actor=actor, now=now, order_created=False)


def confirm_booking(
    appointment_id: int, *, now: datetime, order_id: int | None = None, accept_lapsed: bool = True
) -> Appointment | None:
    """Turn a hold into a booking (payment received, or nothing to pay); None if it cannot be.

    A payment that arrives after the hold lapsed is still accepted while the place is free.
    Confirming twice is harmless: the second call returns the booking unchanged.
    """
    conditions = [Appointment.id == appointment_id, Appointment.state == AppointmentState.HELD]
    if not accept_lapsed:
        conditions.append(Appointment.hold_expires_at > now)
    changed = execute_dml(
        sa.update(Appointment)
        .where(*conditions)
        .values(state=AppointmentState.BOOKED, booked_at=now, order_id=order_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    _expire_cached(Appointment, appointment_id)
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    if changed == 1:
        _announce_booking(appointment, now=now)
        return appointment
    if appointment.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
        return appointment
    if not accept_lapsed or appointment.state is not AppointmentState.EXPIRED:
        return None
    # The hold was released; take the place again if it is still free and the slot bookable.
    slot = appointment.slot
    if slot.session.status is not SessionStatus.OPEN or slot.starts_at <= now:
        return None
    try:
        with db.session.begin_nested():
            if not _take_place(slot.id):
                return None
            changed = execute_dml(
                sa.update(Appointment)
                .where(
                    Appointment.id == appointment_id,
                    Appointment.state == AppointmentState.EXPIRED,
                )
                .values(state=AppointmentState.BOOKED, booked_at=now, order_id=order_id)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                raise _Undo()
    except (IntegrityError, _Undo):
        return None
    _expire_cached(Appointment, appointment_id)
    _expire_cached(Slot, slot.id)
    _announce_booking(appointment, now=now)
    return appointment


def _announce_booking(appointment: Appointment, *, now: datetime) -> None:
    """Tell the patient, and the statistics, that an appointment is booked."""
    notices.booking_confirmed(appointment, now=now)
    session = appointment.slot.session
    booker = db.session.get(Account, appointment.account_id)
    events.appointment_booked.send(
        None,
        appointment_id=appointment.id,
        hospital_id=appointment.hospital_id,
        patient_id=appointment.patient_id,
        department_id=session.department_id,
        clinician_id=session.clinician_id,
        starts_at=appointment.slot.starts_at,
        online=not appointment.is_addon and booker is not None and not booker.is_staff,
        now=now,
    )


class _Undo(Exception):
    """Roll back a savepoint whose work turned out to be unwanted."""


def _get_appointment(appointment_id: int, permission: Permission, *, actor: Account) -> Appointment:
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
    require_patient_access(
        actor, appointment.patient_id, permission, action=f"scheduling.{permission.value}"
    )
    return appointment


def _hold_lapsed() -> Conflict:
    return Conflict(
        _l("Your hold on this slot lapsed. Search again and pick a time."),
        code=ErrorCode.HOLD_EXPIRED,
    )


def confirm(appointment_id: int, *, actor: Account, now: datetime) -> Appointment:
    """The patient's confirm step for a free appointment; a fee-bearing one is booked by paying."""
    appointment = _get_appointment(appointment_id, Permission.BOOK, actor=actor)
    state = effective_state(appointment, now=now)
    if state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN):
        return appointment
    if state is AppointmentState.EXPIRED:
        raise _hold_lapsed()
    if state is not AppointmentState.HELD:
        raise Conflict(
            _l("This appointment can no longer be confirmed."), code=ErrorCode.APPOINTMENT_NOT_HELD
        )
    if appointment.fee_fen > 0:
        # A fee-bearing hold is booked by its payment (billing's order_paid), never for free.
        raise Conflict(
            _l("Pay the registration fee to book this time: the payment confirms the booking."),
            code=ErrorCode.PAYMENT_REQUIRED,
        )
    booked = confirm_booking(appointment.id, now=now, accept_lapsed=False)
    if booked is None:
        raise _hold_lapsed()
    return booked


def on_order_paid(sender: Any, **kw: Any) -> bool | None:
    """Billing reports a paid registration order: book the appointment it refers to."""
    ref = OrderRef.read(str(kw.get("reference", "")))
    if ref is None or ref.kind is not OrderKind.APPOINTMENT:
        return None
    appointment_id = ref.id
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.hospital_id != kw.get("hospital_id"):
        return False
    booked = confirm_booking(appointment_id, now=kw["now"], order_id=kw.get("order_id"))
    return booked is not None
