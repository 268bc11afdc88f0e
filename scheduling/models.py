"""Session templates, exceptions, clinic sessions, slots, appointments and booking rules."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import TypedDict

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow


class FeeClass(enum.StrEnum):
    GENERAL = "general"
    EXPERT = "expert"
    SPECIAL_NEEDS = "special_needs"


class SessionStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class ExceptionKind(enum.StrEnum):
    HOLIDAY = "holiday"  # the whole hospital (or one department) is closed
    LEAVE = "leave"  # one clinician is away


class AppointmentState(enum.StrEnum):
    HELD = "held"
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    NO_SHOW = "no_show"


# States in which an appointment takes a place in its slot; cancelled and expired give it back.
OCCUPYING_STATES = (
    AppointmentState.HELD,
    AppointmentState.BOOKED,
    AppointmentState.CHECKED_IN,
    AppointmentState.COMPLETED,
    AppointmentState.NO_SHOW,
)
_RELEASED_SQL = "state NOT IN ('cancelled', 'expired')"


class SchedulingRules(Model):
    """One hospital's booking rules; a hospital without a row uses the column defaults."""

    __tablename__ = "scheduling_rules"
    __table_args__ = (
        sa.CheckConstraint("hold_minutes BETWEEN 1 AND 120", name="hold_minutes_range"),
        sa.CheckConstraint("max_active_per_patient_per_day >= 1", name="patient_limit_positive"),
        sa.CheckConstraint("max_active_per_account_per_day >= 1", name="account_limit_positive"),
        sa.CheckConstraint("reschedule_limit >= 0", name="reschedule_limit_nonnegative"),
    )

    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), primary_key=True)
    hold_minutes: Mapped[int] = mapped_column(default=10)
    max_active_per_patient_per_day: Mapped[int] = mapped_column(default=2)
    max_active_per_account_per_day: Mapped[int] = mapped_column(default=4)
    # Patients may cancel until this local time on the day `cancel_cutoff_days_before` before.
    cancel_cutoff_days_before: Mapped[int] = mapped_column(default=1)
    cancel_cutoff_time: Mapped[time] = mapped_column(sa.Time, default=time(15, 0))
    no_show_strikes: Mapped[int] = mapped_column(default=3)
    no_show_window_days: Mapped[int] = mapped_column(default=90)
    suspension_days: Mapped[int] = mapped_column(default=30)
    reschedule_limit: Mapped[int] = mapped_column(default=2)


class RuleValues(TypedDict):
    """The hospital-wide booking rules, by column name (see SchedulingRules)."""

    hold_minutes: int
    max_active_per_patient_per_day: int
    max_active_per_account_per_day: int
    cancel_cutoff_days_before: int
    cancel_cutoff_time: time
    no_show_strikes: int
    no_show_window_days: int
    suspension_days: int
    reschedule_limit: int


DEFAULT_RULES: RuleValues = {
    "hold_minutes": 10,
    "max_active_per_patient_per_day": 2,
    "max_active_per_account_per_day": 4,
    "cancel_cutoff_days_before": 1,
    "cancel_cutoff_time": time(15, 0),
    "no_show_strikes": 3,
    "no_show_window_days": 90,
    "suspension_days": 30,
    "reschedule_limit": 2,
}


class SessionTemplate(Model):
    """A weekly recurring clinic session in the hospital's wall-clock time (Monday 08:00-12:00)."""

    __tablename__ = "session_template"
    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint("start_time < end_time", name="starts_before_end"),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="slot_minutes_range"),
        sa.CheckConstraint("capacity BETWEEN 1 AND 500", name="capacity_range"),
        sa.CheckConstraint("fee_fen >= 0", name="fee_nonnegative"),
        sa.CheckConstraint("booking_opens_days BETWEEN 0 AND 90", name="opens_days_range"),
        sa.CheckConstraint(
            "clinician_id IS NOT NULL OR service_point_id IS NOT NULL", name="has_provider"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinician.id"), index=True)
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    weekday: Mapped[int] = mapped_column()  # Monday = 0
    start_time: Mapped[time] = mapped_column(sa.Time)
    end_time: Mapped[time] = mapped_column(sa.Time)
    slot_minutes: Mapped[int] = mapped_column(default=15)
    capacity: Mapped[int] = mapped_column(default=1)
    fee_class: Mapped[FeeClass] = enum_column(FeeClass, default=FeeClass.GENERAL)
    fee_fen: Mapped[int] = mapped_column(default=0)
    booking_opens_days: Mapped[int] = mapped_column(default=14)
    release_time: Mapped[time] = mapped_column(sa.Time, default=time(7, 0))
    booking_closes_minutes: Mapped[int] = mapped_column(default=30)
    checkin_opens_minutes: Mapped[int] = mapped_column(default=60)
    checkin_closes_minutes: Mapped[int] = mapped_column(default=15)
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleException(Model):
    """A public holiday (whole hospital or a department) or a clinician's leave, dates inclusive."""

    __tablename__ = "schedule_exception"
    __table_args__ = (sa.CheckConstraint("first_date <= last_date", name="dates_ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    kind: Mapped[ExceptionKind] = enum_column(ExceptionKind)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinician.id"))
    first_date: Mapped[date] = mapped_column(sa.Date)
    last_date: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClinicSession(Model):
    """One dated clinic session: materialised from a template, or added ad hoc."""

    __tablename__ = "clinic_session"
    __table_args__ = (
        sa.UniqueConstraint("template_id", "local_date"),
        sa.Index("ix_clinic_session_hospital_date", "hospital_id", "local_date"),
        sa.Index("ix_clinic_session_clinician_date", "clinician_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("session_template.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinician.id"))
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    local_date: Mapped[date] = mapped_column(sa.Date)
    start_time: Mapped[time] = mapped_column(sa.Time)
    end_time: Mapped[time] = mapped_column(sa.Time)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fee_class: Mapped[FeeClass] = enum_column(FeeClass)
    fee_fen: Mapped[int] = mapped_column()
    release_at: Mapped[datetime] = mapped_column(UTCDateTime)
    booking_closes_minutes: Mapped[int] = mapped_column()
    checkin_opens_minutes: Mapped[int] = mapped_column()
    checkin_closes_minutes: Mapped[int] = mapped_column()
    status: Mapped[SessionStatus] = enum_column(SessionStatus, default=SessionStatus.OPEN)
    cancel_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    no_shows_marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Slot(Model):
    """A bookable time within a session; `booked` counts the appointments occupying it."""

    __tablename__ = "slot"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "starts_at"),
        # Invariant 1, guarded by the database: never more occupants than places.
        sa.CheckConstraint("booked <= capacity + addon_allowance", name="within_capacity"),
        sa.CheckConstraint("booked >= 0", name="booked_nonnegative"),
        sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
        sa.CheckConstraint("addon_allowance >= 0", name="addon_nonnegative"),
        sa.Index("ix_slot_hospital_date", "hospital_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("clinic_session.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(sa.Date)
    # Online booking closes here (the session's closing minutes before the start), so searches
    # filter on one column.
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column()
    booked: Mapped[int] = mapped_column(default=0)
    # Extra places staff granted explicitly (add-on appointments, "加号"), each audited.
    addon_allowance: Mapped[int] = mapped_column(default=0)

    session: Mapped[ClinicSession] = relationship(lazy="joined")


class Appointment(Model):
    __tablename__ = "appointment"
    __table_args__ = (
        # Invariant 2: one active appointment per patient per clinic session.
        sa.Index(
            "uq_appointment_patient_session_active",
            "patient_id",
            "session_id",
            unique=True,
            postgresql_where=sa.text(_RELEASED_SQL),
            sqlite_where=sa.text(_RELEASED_SQL),
        ),
        sa.Index("ix_appointment_slot_state", "slot_id", "state"),
        sa.Index("ix_appointment_patient_date", "patient_id", "local_date"),
        sa.Index("ix_appointment_account_date", "account_id", "local_date"),
        sa.Index("ix_appointment_state_expiry", "state", "hold_expires_at"),
        sa.CheckConstraint(
            "state <> 'held' OR hold_expires_at IS NOT NULL", name="held_has_expiry"
        ),
        sa.CheckConstraint("reschedule_count >= 0", name="reschedules_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("slot.id"))
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("clinic_session.id"))
    local_date: Mapped[date] = mapped_column(sa.Date)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    # The account that placed it (the patient's own, a family member's, or a registrar's).
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    state: Mapped[AppointmentState] = enum_column(AppointmentState)
    fee_class: Mapped[FeeClass] = enum_column(FeeClass)
    fee_fen: Mapped[int] = mapped_column()
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_addon: Mapped[bool] = mapped_column(default=False)
    addon_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    reschedule_count: Mapped[int] = mapped_column(default=0)
    # Bumped on every change a calendar must see (the .ics SEQUENCE).
    sequence: Mapped[int] = mapped_column(default=0)
    order_id: Mapped[int | None] = mapped_column()  # billing's order, by id only (no import)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    cancel_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    no_show_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The patient answered "keep" to keep-or-release (none: not asked, or no answer: kept too).
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    slot: Mapped[Slot] = relationship(lazy="joined")


class BookingSuspension(Model):
    """Online booking suspended for a patient after repeated no-shows; staff may lift it."""

    __tablename__ = "booking_suspension"
    __table_args__ = (sa.Index("ix_booking_suspension_patient", "patient_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    strikes: Mapped[int] = mapped_column()
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    lift_reason: Mapped[str] = mapped_column(sa.String(200), default="")


# ---- the waitlist (候补) ---------------------------------------------------------------------


class WaitlistKind(enum.StrEnum):
    SESSION = "session"  # one dated clinic session
    CLINICIAN = "clinician"  # any session of a clinician over a date range
    DEPARTMENT = "department"  # any session of a department over a date range


class TimeBand(enum.StrEnum):
    ANY = "any"
    MORNING = "morning"  # starts before 12:00 local time
    AFTERNOON = "afternoon"  # 12:00 to 18:00
    EVENING = "evening"  # from 18:00


class WaitlistState(enum.StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # an offer is out; the entry waits for its answer
    FULFILLED = "fulfilled"  # an offer was accepted
    LEFT = "left"  # the patient left the list
    REMOVED = "removed"  # too many offers lapsed unanswered
    ENDED = "ended"  # its dates passed


ACTIVE_WAITLIST_STATES = (WaitlistState.WAITING, WaitlistState.OFFERED)


class OfferState(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"  # the hold ended otherwise (the session was cancelled)


class WaitlistEntry(Model):
    """A patient waiting for a place: in one session, or a clinician's or department's dates."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        sa.Index("ix_waitlist_entry_hospital_state_joined", "hospital_id", "state", "joined_at"),
        sa.Index("ix_waitlist_entry_patient_state", "patient_id", "state"),
        sa.CheckConstraint("first_date <= last_date", name="dates_ordered"),
        sa.CheckConstraint("lapses >= 0", name="lapses_nonnegative"),
        sa.CheckConstraint(
            "(kind = 'session' AND session_id IS NOT NULL) OR "
            "(kind = 'clinician' AND clinician_id IS NOT NULL) OR kind = 'department'",
            name="has_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    kind: Mapped[WaitlistKind] = enum_column(WaitlistKind)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinic_session.id"))
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinician.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    first_date: Mapped[date] = mapped_column(sa.Date)
    last_date: Mapped[date] = mapped_column(sa.Date)
    band: Mapped[TimeBand] = enum_column(TimeBand, default=TimeBand.ANY)
    fee_class: Mapped[FeeClass | None] = enum_column(FeeClass, nullable=True)
    state: Mapped[WaitlistState] = enum_column(WaitlistState, default=WaitlistState.WAITING)
    lapses: Mapped[int] = mapped_column(default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FreedPlace(Model):
    """A place that came free in a slot, followed until the waitlist re-books it (or cannot)."""

    __tablename__ = "waitlist_freed_place"
    __table_args__ = (
        sa.Index("ix_waitlist_freed_place_hospital_freed", "hospital_id", "freed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("slot.id"))
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("clinic_session.id"))
    reason: Mapped[str] = mapped_column(sa.String(40))
    freed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rebooked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WaitlistOffer(Model):
    """A freed place offered to one waiter as a hold with a claim window."""

    __tablename__ = "waitlist_offer"
    __table_args__ = (
        sa.UniqueConstraint("appointment_id"),
        sa.Index("ix_waitlist_offer_state_notify", "state", "notify_at"),
        sa.Index("ix_waitlist_offer_entry", "entry_id"),
        sa.CheckConstraint("notify_at < expires_at", name="window_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("waitlist_entry.id"))
    freed_place_id: Mapped[int | None] = mapped_column(sa.ForeignKey("waitlist_freed_place.id"))
    slot_id: Mapped[int] = mapped_column(sa.ForeignKey("slot.id"))
    appointment_id: Mapped[int] = mapped_column(sa.ForeignKey("appointment.id"))
    state: Mapped[OfferState] = enum_column(OfferState, default=OfferState.OFFERED)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Offers made at night are sent (and their claim window starts) when the quiet hours end.
    notify_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry: Mapped[WaitlistEntry] = relationship(lazy="joined")
