"""Input (`...Args`) and output schemas of the queueing API."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hospital.web.id_fields import id_field, id_list_field
from queueing.models import PriorityClass

STAFF_PRIORITIES = [p.value for p in PriorityClass]


class OpenQueueArgs(Schema):
    service_point_id = id_field(required=True)
    prefix = fields.Str(
        validate=validate.Regexp(r"^[A-Z]{1,4}$", error="Use 1 to 4 capital letters.")
    )


class WalkInArgs(Schema):
    service_point_id = id_field(required=True)
    patient_id = id_field(load_default=None, allow_none=True)
    priority = fields.Str(
        validate=validate.OneOf(STAFF_PRIORITIES), load_default=None, allow_none=True
    )


class CheckInArgs(Schema):
    OPENAPI_CONSTRAINTS: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": ["appointment_id"]}, {"required": ["code"]}]
    }

    appointment_id = id_field(
        metadata={"description": "Staff and patients: the appointment to check in."},
    )
    code = fields.Str(
        validate=validate.Length(min=1, max=512),
        metadata={
            "description": "Kiosks: the text of the appointment's QR code or the patient's "
            "visit code (就诊码), the proof a device must give (a device may not check in by id)."
        },
    )
    poster_code = fields.Str(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Patients: the code of the check-in poster scanned at the "
            "department's entrance (its QR carries it), the proof of being there."
        },
    )

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_kw: object) -> None:
        if ("appointment_id" in data) == ("code" in data):
            raise ValidationError(
                "Give either appointment_id or code (the appointment's QR code).",
                field_name="appointment_id",
            )


class CounterCreateArgs(Schema):
    service_point_id = id_field(required=True)
    code = fields.Str(required=True, validate=validate.Length(min=1, max=16))
    name_zh = fields.Str(load_default="", validate=validate.Length(max=100))
    name_en = fields.Str(load_default="", validate=validate.Length(max=100))


class CounterActionArgs(Schema):
    ticket_id = id_field(load_default=None, allow_none=True)


class CallTicketArgs(Schema):
    ticket_id = id_field(required=True)
    reason = fields.Str(required=True, validate=validate.Length(min=3, max=300))


class TransferArgs(Schema):
    to_service_point_id = id_field(required=True)
    come_back = fields.Bool(load_default=False)
    ticket_id = id_field(load_default=None, allow_none=True)


class PauseArgs(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=2, max=200))
    minutes = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=480))


class NotifyAheadArgs(Schema):
    notify_ahead = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=20))


class NotifyAheadOut(Schema):
    notify_ahead = fields.Int(required=True)


class EtaOut(Schema):
    low_minutes = fields.Int(required=True)
    high_minutes = fields.Int(required=True)


class TicketPlaceOut(Schema):
    name_zh = fields.Str(required=True)
    name_en = fields.Str(required=True)
    building = fields.Str(required=True, allow_none=True)
    floor = fields.Str(required=True, allow_none=True)
    room = fields.Str(required=True, allow_none=True)
    directions_zh = fields.Str(required=True, allow_none=True)
    directions_en = fields.Str(required=True, allow_none=True)


class TicketViewOut(Schema):
    """The ticket page: position, ETA range, room and directions; masked name only."""

    code = fields.Str(required=True)
    masked_name = fields.Str(required=True)
    status = fields.Str(required=True)
    ahead = fields.Int(required=True, allow_none=True)
    eta = fields.Nested(EtaOut, required=True, allow_none=True)
    counter = fields.Str(required=True, allow_none=True)
    call_count = fields.Int(required=True)
    notify_ahead = fields.Int(required=True)
    queue_status = fields.Str(required=True)
    version = fields.Int(required=True)
    place = fields.Nested(TicketPlaceOut, required=True)


class BoardArgs(Schema):
    """A board shows the listed service points and a department's; with neither, the hospital's."""

    points = id_list_field(
        max_items=20,
        error="List up to 20 service point ids, e.g. 1,2,3.",
        metadata={"description": "Service point ids, e.g. 1,2,3 (up to 20)."},
    )
    department = id_field(strict=False)


class BoardTicketOut(Schema):
    """A ticket as a public screen shows it: number and masked name only."""

    code = fields.Str(required=True)
    masked_name = fields.Str(required=True)
    status = fields.Str(required=True)
    room = fields.Str(required=True, allow_none=True)
    counter = fields.Str(required=True, allow_none=True)
    call_count = fields.Int(required=True)
    called_at = fields.Str(required=True, allow_none=True)
    call_key = fields.Str(required=True)


class BoardCallOut(BoardTicketOut):
    place_zh = fields.Str(required=True)
    place_en = fields.Str(required=True)


class BoardWaitingOut(Schema):
    code = fields.Str(required=True)
    masked_name = fields.Str(required=True)


class BoardQueueOut(Schema):
    queue_id = fields.Int(required=True)
    version = fields.Int(required=True)
    name_zh = fields.Str(required=True)
    name_en = fields.Str(required=True)
    room = fields.Str(required=True, allow_none=True)
    floor = fields.Str(required=True, allow_none=True)
    now_calling = fields.List(fields.Nested(BoardTicketOut), required=True)
    next_waiting = fields.List(fields.Nested(BoardWaitingOut), required=True)
    waiting_count = fields.Int(required=True)


class BoardOut(Schema):
    """A display board: each queue's calls and next waiting, and the latest calls overall."""

    queues = fields.List(fields.Nested(BoardQueueOut), required=True)
    calls = fields.List(fields.Nested(BoardCallOut), required=True)


class QueueOut(Schema):
    id = fields.Int()
    service_point_id = fields.Int()
    service_day = fields.Date()
    prefix = fields.Str()
    status = fields.Str()
    last_number = fields.Int()
    version = fields.Int()


class CounterOut(Schema):
    id = fields.Int()
    service_point_id = fields.Int()
    code = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    is_paused = fields.Bool()
    pause_reason = fields.Str()
    paused_until = fields.DateTime(allow_none=True)
    current_ticket_id = fields.Int(allow_none=True)


class TicketOut(Schema):
    """A ticket as its holder or staff see it: number and link, never a name."""

    id = fields.Int()
    queue_id = fields.Int()
    code = fields.Str()
    number = fields.Int()
    token = fields.Str()
    status = fields.Str()
    priority = fields.Str()
    kind = fields.Str()
    counter_id = fields.Int(allow_none=True)
    call_count = fields.Int()
    misses = fields.Int()
    link = fields.Str()


class CallOut(Schema):
    ticket = fields.Nested(TicketOut, allow_none=True)
    repeated = fields.Bool()
    reason = fields.Str()
    detail = fields.Dict()


class AlertThresholdsArgs(Schema):
    booked_wait_minutes = fields.Int(required=True, strict=True, validate=validate.Range(1, 600))
    longest_wait_minutes = fields.Int(required=True, strict=True, validate=validate.Range(1, 600))
    pause_overrun_minutes = fields.Int(required=True, strict=True, validate=validate.Range(0, 240))
    calls_without_coming = fields.Int(required=True, strict=True, validate=validate.Range(2, 10))


class AlertThresholdsOut(Schema):
    booked_wait_minutes = fields.Int()
    longest_wait_minutes = fields.Int()
    pause_overrun_minutes = fields.Int()
    calls_without_coming = fields.Int()


class AlertOut(Schema):
    kind = fields.Str(
        metadata={
            "description": "booked_waiting_long, longest_wait, pause_overrun or called_not_coming"
        }
    )
    queue_id = fields.Int()
    service_point_id = fields.Int()
    place_zh = fields.Str()
    place_en = fields.Str()
    message = fields.Str(metadata={"description": "In the request's language"})
    detail = fields.Dict(metadata={"description": "Ticket number, minutes, counter code; no names"})


class AlertsOut(Schema):
    alerts = fields.List(fields.Nested(AlertOut))


class CounterQueuesArgs(Schema):
    service_point_ids = fields.List(
        id_field(),
        required=True,
        validate=validate.Length(max=10),
        metadata={"description": "Further service points, in priority order (own one first)"},
    )
    rule = fields.Str(
        load_default="longest_wait", validate=validate.OneOf(["longest_wait", "priority_order"])
    )


class CounterQueuesOut(Schema):
    counter_id = fields.Int()
    rule = fields.Str()
    service_point_ids = fields.List(fields.Int())


class SurveyAnswerArgs(Schema):
    """The three answers (1 very poor … 5 very good) and an optional comment."""

    wait_score = fields.Int(required=True, strict=True, validate=validate.Range(1, 5))
    staff_score = fields.Int(required=True, strict=True, validate=validate.Range(1, 5))
    overall_score = fields.Int(required=True, strict=True, validate=validate.Range(1, 5))
    comment = fields.Str(load_default="", validate=validate.Length(max=500))


class SurveyAnswerOut(Schema):
    """The answers as recorded (the comment is shown to the hospital's admins only)."""

    answered_at = fields.DateTime(required=True)
    answered_via = fields.Str(required=True)
    wait_score = fields.Int(required=True)
    staff_score = fields.Int(required=True)
    overall_score = fields.Int(required=True)
