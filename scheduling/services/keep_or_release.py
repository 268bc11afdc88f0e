"""Ask patients, ahead of a booking, to keep it or release it for someone on the waitlist."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify_patient
from hospital.patients.access import Permission
from scheduling import notices
from scheduling.models import Appointment, AppointmentState, Slot
from scheduling.services.booking import _get_appointment
from scheduling.services.places import effective_state

KEEP_OR_RELEASE = "scheduling.keep_or_release"

MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    KEEP_OR_RELEASE: MessageTemplate(
        subject=_l("Will you keep your appointment?"),
        body=_l(
            "{hospital}: {patient} has an appointment with {clinician} ({department}) on {when}. "
            "If you cannot come, release it for a patient on the waitlist (the fee is refunded "
            "by the cancellation policy): {link}. If you do nothing, you keep it."
        ),
    ),
}


def ask_hours() -> int:
    """Hours before the start to ask (setting WAITLIST_KEEP_OR_RELEASE_HOURS; 0: never)."""
    if not has_app_context():
        return 48
    return int(current_app.config.get("WAITLIST_KEEP_OR_RELEASE_HOURS", 48))


def ask_keep_or_release(*, now: datetime) -> int:
    """Ask once for every booking starting within the window (a catch-up sweep over `now`)."""
    hours = ask_hours()
    if hours <= 0:
        return 0
    appointments = db.session.scalars(
        sa.select(Appointment)
        .join(Slot, Slot.id == Appointment.slot_id)
        .where(
            Appointment.state == AppointmentState.BOOKED,
            Appointment.kept_at.is_(None),  # kept before being asked: nothing to ask
            Slot.starts_at > now,
            Slot.starts_at <= now + timedelta(hours=hours),
        )
    ).all()
    base = str(current_app.config.get("PUBLIC_URL", "")).rstrip("/") if has_app_context() else ""
    asked = 0
    for appointment in appointments:
        booked_at = appointment.booked_at or appointment.created_at
        if booked_at >= appointment.slot.starts_at - timedelta(hours=hours):
            continue  # booked inside the window: the patient has only just decided
        patient, context = notices.message_context(appointment)
        context["link"] = f"{base}/appointments"
        written = notify_patient(
            patient,
            KEEP_OR_RELEASE,
            context,
            now=now,
            dedupe_key=f"appointment:{appointment.id}:keep-or-release",
            family_permission=Permission.BOOK,
        )
        asked += 1 if written else 0
    return asked


def asking(appointment: Appointment, *, now: datetime) -> bool:
    """Whether the patient is now asked to keep or release this booking (and has not kept it)."""
    hours = ask_hours()
    return (
        hours > 0
        and appointment.kept_at is None
        and effective_state(appointment, now=now) is AppointmentState.BOOKED
        and now < appointment.slot.starts_at <= now + timedelta(hours=hours)
    )


def keep(appointment_id: int, *, actor: Account, now: datetime) -> Appointment:
    """The patient answers "I will come": the booking is kept and not asked about again."""
    appointment = _get_appointment(appointment_id, Permission.BOOK, actor=actor)
    if (
        effective_state(appointment, now=now) is not AppointmentState.BOOKED
        or appointment.slot.starts_at <= now
    ):
        raise Conflict(
            _l("Only a booked appointment that has not started can be kept."),
            code=ErrorCode.NOT_BOOKED,
        )
    if appointment.kept_at is None:
        appointment.kept_at = now
        db.session.flush()
    return appointment
