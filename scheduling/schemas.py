"""What the scheduling API accepts (`...Args`, unknown fields refused) and what it shows."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from hospital.db import utcnow
from hospital.web.id_fields import id_field
from scheduling.models import (
    ExceptionKind,
    FeeClass,
    OfferState,
    SessionStatus,
    TimeBand,
    WaitlistKind,
    WaitlistState,
)

MAX_SEARCH_DAYS = 31
FEE_CLASSES = [f.value for f in FeeClass]
EXCEPTION_KINDS = [k.value for k in ExceptionKind]

# Limits shared by a new weekly template, a change to one and an extra session.
SLOT_MINUTES = validate.Range(5, 240)
CAPACITY = validate.Range(1, 500)
FEE_FEN = validate.Range(0, 10_000_000)
BOOKING_OPENS_DAYS = validate.Range(0, 90)
BOOKING_CLOSES_MINUTES = validate.Range(0, 24 * 60)


def _reason(required: bool = True) -> fields.Str:
    if required:
        return fields.Str(required=True, validate=validate.Length(min=1, max=200))
    return fields.Str(load_default="", validate=validate.Length(max=200))


# ---- availability -------------------------------------------------------------------------


class AvailabilityQueryArgs(Schema):
    """A department, a clinician, both or neither (the whole hospital); at most 31 days."""

    department_id = id_field(strict=False)
    clinician_id = id_field(strict=False)
    date_from = fields.Date(required=True, data_key="from", metadata={"example": "2026-12-01"})
    date_to = fields.Date(
        required=True,
        data_key="to",
        metadata={
            "example": "2026-12-14",
            "description": f"The last day searched. At most {MAX_SEARCH_DAYS} days from `from` "
            "are answered (later days are left out); a `to` before `from` answers nothing.",
        },
    )
    fee_class = fields.Str(validate=validate.OneOf(FEE_CLASSES))
    only_bookable = fields.Bool(load_default=False)

    @post_load
    def _window(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        days_left = (date.max - data["date_from"]).days
        window = timedelta(days=min(MAX_SEARCH_DAYS - 1, days_left))
        data["date_to"] = min(data["date_to"], data["date_from"] + window)
        return data


class _OfferedTimeOut(Schema):
    """What a free slot and a session with places both show: who, when, at what fee."""

    session_id = fields.Int()
    local_date = fields.Date()
    starts_at = fields.AwareDateTime()
    clinician_id = fields.Int(allow_none=True)
    clinician_name_zh = fields.Str()
    clinician_name_en = fields.Str()
    department_id = fields.Int()
    fee_class = fields.Enum(FeeClass, by_value=True)
    fee_fen = fields.Int()
    remaining = fields.Int()
    release_at = fields.AwareDateTime()
    bookable = fields.Bool()


class AvailableSlotOut(_OfferedTimeOut):
    slot_id = fields.Int()
    ends_at = fields.AwareDateTime()
    capacity = fields.Int()


class AvailableSessionOut(_OfferedTimeOut):
    start_time = fields.Time()
    end_time = fields.Time()
    open_slots = fields.Int()


class SessionAvailabilityQueryArgs(AvailabilityQueryArgs):
    class Meta:
        exclude = ("only_bookable",)


# ---- appointments -------------------------------------------------------------------------


class HoldArgs(Schema):
    patient_id = id_field(required=True)
    slot_id = id_field(required=True)


class AppointmentCancelArgs(Schema):
    reason = _reason(required=False)


class RescheduleArgs(Schema):
    slot_id = id_field(required=True)


class AddOnArgs(Schema):
    patient_id = id_field(required=True)
    slot_id = id_field(required=True)
    reason = _reason()


class DayListQueryArgs(Schema):
    clinician_id = id_field(strict=False, required=True)
    date = fields.Date(required=True)


def _effective_state(appointment: Any) -> str:
    from scheduling.services.places import effective_state

    return effective_state(appointment, now=utcnow()).value


class AppointmentOut(Schema):
    """An appointment as its patient and their family see it."""

    id = fields.Int()
    patient_id = fields.Int()
    slot_id = fields.Int()
    session_id = fields.Int()
    state = fields.Function(_effective_state)
    starts_at = fields.AwareDateTime(attribute="slot.starts_at")
    ends_at = fields.AwareDateTime(attribute="slot.ends_at")
    local_date = fields.Date()
    clinician_id = fields.Int(attribute="slot.session.clinician_id", allow_none=True)
    department_id = fields.Int(attribute="slot.session.department_id")
    fee_class = fields.Enum(FeeClass, by_value=True)
    fee_fen = fields.Int()
    hold_expires_at = fields.AwareDateTime(allow_none=True)
    reschedule_count = fields.Int()
    created_at = fields.AwareDateTime()
    booked_at = fields.AwareDateTime(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancel_reason = fields.Str()


class StaffAppointmentOut(AppointmentOut):
    """An appointment as clinic staff see it on the day list."""

    account_id = fields.Int()
    is_addon = fields.Bool()
    addon_reason = fields.Str()
    checked_in_at = fields.AwareDateTime(allow_none=True)
    no_show_at = fields.AwareDateTime(allow_none=True)


# ---- schedules (admin) --------------------------------------------------------------------


class SessionTemplateArgs(Schema):
    department_id = id_field(required=True)
    clinician_id = id_field(load_default=None, allow_none=True)
    service_point_id = id_field(load_default=None, allow_none=True)
    weekday = fields.Int(
        strict=True,
        required=True,
        validate=validate.Range(0, 6),
        metadata={"description": "Monday = 0 ... Sunday = 6"},
    )
    start_time = fields.Time(required=True, metadata={"example": "08:00"})
    end_time = fields.Time(required=True, metadata={"example": "12:00"})
    slot_minutes = fields.Int(strict=True, load_default=15, validate=SLOT_MINUTES)
    capacity = fields.Int(strict=True, load_default=1, validate=CAPACITY)
    fee_class = fields.Str(load_default="general", validate=validate.OneOf(FEE_CLASSES))
    fee_fen = fields.Int(strict=True, load_default=0, validate=FEE_FEN)
    booking_opens_days = fields.Int(strict=True, load_default=14, validate=BOOKING_OPENS_DAYS)
    release_time = fields.Time(load_default=time(7), metadata={"example": "07:00"})
    booking_closes_minutes = fields.Int(
        strict=True, load_default=30, validate=BOOKING_CLOSES_MINUTES
    )
    checkin_opens_minutes = fields.Int(
        strict=True, load_default=60, validate=validate.Range(0, 24 * 60)
    )
    checkin_closes_minutes = fields.Int(
        strict=True, load_default=15, validate=validate.Range(0, 240)
    )
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _times(self, data: dict[str, Any], **_kw: Any) -> None:
        if (
            data.get("start_time")
            and data.get("end_time")
            and data["start_time"] >= data["end_time"]
        ):
            raise ValidationError("end_time must be after start_time.", "end_time")


class SessionTemplateUpdateArgs(Schema):
    start_time = fields.Time()
    end_time = fields.Time()
    slot_minutes = fields.Int(strict=True, validate=SLOT_MINUTES)
    capacity = fields.Int(strict=True, validate=CAPACITY)
    fee_class = fields.Str(validate=validate.OneOf(FEE_CLASSES))
    fee_fen = fields.Int(strict=True, validate=FEE_FEN)
    booking_opens_days = fields.Int(strict=True, validate=BOOKING_OPENS_DAYS)
    release_time = fields.Time()
    booking_closes_minutes = fields.Int(strict=True, validate=BOOKING_CLOSES_MINUTES)
    valid_until = fields.Date(allow_none=True)
    is_active = fields.Bool()

    @validates_schema
    def _something(self, data: dict[str, Any], **_kw: Any) -> None:
        if not data:
            raise ValidationError("Send at least one field to change.")


class SessionTemplateOut(Schema):
    id = fields.Int()
    department_id = fields.Int()
    clinician_id = fields.Int(allow_none=True)
    service_point_id = fields.Int(allow_none=True)
    weekday = fields.Int()
    start_time = fields.Time()
    end_time = fields.Time()
    slot_minutes = fields.Int()
    capacity = fields.Int()
    fee_class = fields.Enum(FeeClass, by_value=True)
    fee_fen = fields.Int()
    booking_opens_days = fields.Int()
    release_time = fields.Time()
    booking_closes_minutes = fields.Int()
    checkin_opens_minutes = fields.Int()
    checkin_closes_minutes = fields.Int()
    valid_from = fields.Date()
    valid_until = fields.Date(allow_none=True)
    is_active = fields.Bool()


class ScheduleExceptionArgs(Schema):
    kind = fields.Str(required=True, validate=validate.OneOf(EXCEPTION_KINDS))
    clinician_id = id_field(load_default=None, allow_none=True)
    department_id = id_field(load_default=None, allow_none=True)
    first_date = fields.Date(required=True)
    last_date = fields.Date(required=True)
    reason = _reason()

    @validates_schema
    def _dates(self, data: dict[str, Any], **_kw: Any) -> None:
        if data.get("first_date") and data.get("last_date"):
            if data["last_date"] < data["first_date"]:
                raise ValidationError("last_date must not be before first_date.", "last_date")
            if data["last_date"] - data["first_date"] > timedelta(days=366):
                raise ValidationError("Enter at most a year at once.", "last_date")


class ScheduleExceptionOut(Schema):
    id = fields.Int()
    kind = fields.Enum(ExceptionKind, by_value=True)
    clinician_id = fields.Int(allow_none=True)
    department_id = fields.Int(allow_none=True)
    first_date = fields.Date()
    last_date = fields.Date()
    reason = fields.Str()
    cancelled_appointments = fields.Int()


class ExtraSessionArgs(SessionTemplateArgs):
    class Meta:
        exclude = ("weekday", "valid_from", "valid_until")

    local_date = fields.Date(required=True)


class ClinicSessionOut(Schema):
    id = fields.Int()
    template_id = fields.Int(allow_none=True)
    department_id = fields.Int()
    clinician_id = fields.Int(allow_none=True)
    local_date = fields.Date()
    start_time = fields.Time()
    end_time = fields.Time()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    release_at = fields.AwareDateTime()
    fee_class = fields.Enum(FeeClass, by_value=True)
    fee_fen = fields.Int()
    status = fields.Enum(SessionStatus, by_value=True)


class SessionCancelArgs(Schema):
    reason = _reason()


class LiftSuspensionArgs(Schema):
    patient_id = id_field(required=True)
    reason = _reason()


class BookingRulesArgs(Schema):
    hold_minutes = fields.Int(strict=True, validate=validate.Range(1, 120))
    max_active_per_patient_per_day = fields.Int(strict=True, validate=validate.Range(1, 20))
    max_active_per_account_per_day = fields.Int(strict=True, validate=validate.Range(1, 50))
    cancel_cutoff_days_before = fields.Int(strict=True, validate=validate.Range(0, 14))
    cancel_cutoff_time = fields.Time()
    no_show_strikes = fields.Int(strict=True, validate=validate.Range(1, 20))
    no_show_window_days = fields.Int(strict=True, validate=validate.Range(1, 365))
    suspension_days = fields.Int(strict=True, validate=validate.Range(1, 365))
    reschedule_limit = fields.Int(strict=True, validate=validate.Range(0, 10))

    @validates_schema
    def _something(self, data: dict[str, Any], **_kw: Any) -> None:
        if not data:
            raise ValidationError("Send at least one rule to change.")


class BookingRulesOut(Schema):
    hold_minutes = fields.Int()
    max_active_per_patient_per_day = fields.Int()
    max_active_per_account_per_day = fields.Int()
    cancel_cutoff_days_before = fields.Int()
    cancel_cutoff_time = fields.Time()
    no_show_strikes = fields.Int()
    no_show_window_days = fields.Int()
    suspension_days = fields.Int()
    reschedule_limit = fields.Int()


# ---- the waitlist ---------------------------------------------------------------------------

TIME_BANDS = [b.value for b in TimeBand]


class WaitlistJoinArgs(Schema):
    """Wait for one sold-out session, or for a clinician's or a department's dates."""

    patient_id = id_field(required=True)
    session_id = id_field()
    clinician_id = id_field()
    department_id = id_field()
    first_date = fields.Date(metadata={"description": "First day (ranges only; default today)."})
    last_date = fields.Date(metadata={"description": "Last day (ranges only; at most 31 days)."})
    band = fields.Str(load_default="any", validate=validate.OneOf(TIME_BANDS))
    fee_class = fields.Str(validate=validate.OneOf(FEE_CLASSES))

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_kw: Any) -> None:
        targets = [k for k in ("session_id", "clinician_id", "department_id") if data.get(k)]
        if len(targets) != 1:
            raise ValidationError(
                "Give exactly one of session_id, clinician_id or department_id.", "session_id"
            )


class WaitlistOfferOut(Schema):
    """A freed place held for a waiter until the claim window ends."""

    id = fields.Int()
    entry_id = fields.Int()
    slot_id = fields.Int()
    appointment_id = fields.Int(
        metadata={"description": "The held appointment: confirm it, or pay its order, to accept."}
    )
    state = fields.Enum(OfferState, by_value=True)
    offered_at = fields.AwareDateTime()
    notify_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    decided_at = fields.AwareDateTime(allow_none=True)


class WaitlistEntryOut(Schema):
    """A waitlist entry with its place in line and the offer out to it, if any."""

    id = fields.Int(attribute="entry.id")
    patient_id = fields.Int(attribute="entry.patient_id")
    kind = fields.Enum(WaitlistKind, by_value=True, attribute="entry.kind")
    session_id = fields.Int(attribute="entry.session_id", allow_none=True)
    clinician_id = fields.Int(attribute="entry.clinician_id", allow_none=True)
    department_id = fields.Int(attribute="entry.department_id")
    first_date = fields.Date(attribute="entry.first_date")
    last_date = fields.Date(attribute="entry.last_date")
    band = fields.Enum(TimeBand, by_value=True, attribute="entry.band")
    fee_class = fields.Enum(FeeClass, by_value=True, attribute="entry.fee_class", allow_none=True)
    state = fields.Enum(WaitlistState, by_value=True, attribute="entry.state")
    lapses = fields.Int(attribute="entry.lapses")
    joined_at = fields.AwareDateTime(attribute="entry.joined_at")
    position = fields.Int(
        allow_none=True, metadata={"description": "Place in line, from 1; null once ended."}
    )
    target = fields.Str(metadata={"description": "The clinician's or department's name."})
    offer = fields.Nested(WaitlistOfferOut, allow_none=True)


class WaitlistDemandOut(Schema):
    clinician_id = fields.Int()
    name = fields.Str()
    waiting = fields.Int(metadata={"description": "Entries for the clinician or their sessions."})
    department_waiting = fields.Int(
        metadata={"description": "Entries for the clinician's whole department."}
    )


class BackfillStatsQueryArgs(Schema):
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_kw: Any) -> None:
        if data["date_to"] < data["date_from"]:
            raise ValidationError("date_to must not be before date_from.", "date_to")
        if (data["date_to"] - data["date_from"]).days > 366:
            raise ValidationError("Ask for at most a year at a time.", "date_to")


class BackfillStatsOut(Schema):
    freed = fields.Int(metadata={"description": "Places that came free with someone waiting."})
    rebooked = fields.Int(metadata={"description": "Of them, re-booked from the waitlist."})
    rebooked_share = fields.Float(allow_none=True)
    median_minutes_to_rebook = fields.Float(allow_none=True)
    offers_sent = fields.Int()
    offers_accepted = fields.Int()
    offers_declined = fields.Int()
    offers_lapsed = fields.Int()
    waitlist_no_show_rate = fields.Float(allow_none=True)
    other_no_show_rate = fields.Float(allow_none=True)
