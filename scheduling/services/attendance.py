"""Mark no-shows, count strikes, and suspend or let book again patients who keep missing."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital import events
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.patients.models import Patient
from scheduling.models import (
    Appointment,
    AppointmentState,
    BookingSuspension,
    ClinicSession,
    SessionStatus,
)
from scheduling.services.places import _end_appointment
from scheduling.services.rules import DESK_ROLES, _require_roles, rules_for


def mark_no_shows(*, now: datetime) -> int:
    """At the end of each session, mark bookings never checked in as no-shows; count strikes."""
    session_ids = db.session.scalars(
        sa.select(ClinicSession.id).where(
            ClinicSession.ends_at <= now,
            ClinicSession.no_shows_marked_at.is_(None),
            ClinicSession.status == SessionStatus.OPEN,
        )
    ).all()
    marked = 0
    for session_id in session_ids:
        claimed = execute_dml(
            sa.update(ClinicSession)
            .where(ClinicSession.id == session_id, ClinicSession.no_shows_marked_at.is_(None))
            .values(no_shows_marked_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        for appointment_id in db.session.scalars(
            sa.select(Appointment.id).where(
                Appointment.session_id == session_id, Appointment.state == AppointmentState.HELD
            )
        ).all():
            _end_appointment(
                appointment_id,
                to_state=AppointmentState.EXPIRED,
                from_states=(AppointmentState.HELD,),
                reason="expired",
                refund="none",
                now=now,
            )
        patients = db.session.execute(
            sa.update(Appointment)
            .where(
                Appointment.session_id == session_id,
                Appointment.state == AppointmentState.BOOKED,
            )
            .values(state=AppointmentState.NO_SHOW, no_show_at=now)
            .returning(Appointment.id, Appointment.patient_id, Appointment.hospital_id)
            .execution_options(synchronize_session=False)
        ).all()
        marked += len(patients)
        for appointment_id, patient_id, hospital_id in patients:
            events.appointment_no_show.send(
                None, appointment_id=appointment_id, hospital_id=hospital_id, now=now
            )
            _count_strikes(patient_id, hospital_id, now=now)
    return marked


def _count_strikes(patient_id: int, hospital_id: int, *, now: datetime) -> None:
    rules = rules_for(hospital_id)
    last_suspension = db.session.scalar(
        sa.select(sa.func.max(BookingSuspension.starts_at)).where(
            BookingSuspension.patient_id == patient_id
        )
    )
    if active_suspension(patient_id, now=now) is not None:
        return
    since = now - timedelta(days=rules.no_show_window_days)
    if last_suspension is not None and last_suspension > since:
        since = last_suspension  # strikes before a suspension were paid for by it
    strikes = db.session.execute(
        sa.select(sa.func.count()).where(
            Appointment.patient_id == patient_id,
            Appointment.state == AppointmentState.NO_SHOW,
            Appointment.no_show_at > since,
        )
    ).scalar_one()
    if strikes < rules.no_show_strikes:
        return
    db.session.add(
        BookingSuspension(
            hospital_id=hospital_id,
            patient_id=patient_id,
            starts_at=now,
            ends_at=now + timedelta(days=rules.suspension_days),
            strikes=strikes,
        )
    )
    db.session.flush()


def active_suspension(patient_id: int, *, now: datetime) -> BookingSuspension | None:
    return db.session.scalar(
        sa.select(BookingSuspension)
        .where(
            BookingSuspension.patient_id == patient_id,
            BookingSuspension.ends_at > now,
            BookingSuspension.lifted_at.is_(None),
        )
        .order_by(BookingSuspension.ends_at.desc())
        .limit(1)
    )


def active_suspensions(*, actor: Account, now: datetime) -> list[tuple[BookingSuspension, Patient]]:
    """The hospital's patients who may not book online now, soonest to end first (desk staff)."""
    _require_roles(actor.hospital_id, DESK_ROLES, actor=actor)
    rows = db.session.execute(
        sa.select(BookingSuspension, Patient)
        .join(Patient, Patient.id == BookingSuspension.patient_id)
        .where(
            BookingSuspension.hospital_id == actor.hospital_id,
            Patient.hospital_id == actor.hospital_id,
            BookingSuspension.ends_at > now,
            BookingSuspension.lifted_at.is_(None),
        )
        .order_by(BookingSuspension.ends_at)
        .limit(500)
    ).all()
    return [(suspension, patient) for suspension, patient in rows]


def lift_suspension(patient_id: int, *, actor: Account, reason: str, now: datetime) -> int:
    """Let a suspended patient book online again (desk staff, with a reason)."""
    _require_roles(actor.hospital_id, DESK_ROLES, actor=actor)
    if not reason.strip():
        raise InvalidInput(
            _l("Give a reason for lifting the suspension."), code=ErrorCode.REASON_REQUIRED
        )
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such patient."), code=ErrorCode.PATIENT_NOT_FOUND)
    lifted = execute_dml(
        sa.update(BookingSuspension)
        .where(
            BookingSuspension.patient_id == patient_id,
            BookingSuspension.ends_at > now,
            BookingSuspension.lifted_at.is_(None),
        )
        .values(lifted_at=now, lifted_by_account_id=actor.id, lift_reason=reason[:200])
        .execution_options(synchronize_session=False)
    ).rowcount
    if not lifted:
        raise Conflict(_l("This patient is not suspended."), code=ErrorCode.NOT_SUSPENDED)
    record(
        action="scheduling.suspension_lifted",
        actor=actor,
        object_type="patient",
        object_id=str(patient_id),
        patient_id=patient_id,
        detail={"reason": reason},
    )
    return lifted
