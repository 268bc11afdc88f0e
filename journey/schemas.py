"""Output schemas of the visit (what the patient and family accounts see; masked name only)."""

from __future__ import annotations

from marshmallow import Schema, fields


class PlaceOut(Schema):
    name = fields.Str(
        required=True, metadata={"description": "The room's name, in the reader's language."}
    )
    building = fields.Str(required=True)
    floor = fields.Str(required=True)
    room = fields.Str(required=True)
    directions = fields.Str(required=True, metadata={"description": "How to get there."})


class NextStepOut(Schema):
    kind = fields.Str(
        required=True,
        metadata={
            "description": "go_now, being_seen, pay_registration, pay_orders, wait, check_in, "
            "report_pending, read_report, done or nothing."
        },
    )
    title = fields.Str(required=True, metadata={"description": "The step in one sentence."})
    detail = fields.Str(required=True)
    where = fields.Str(required=True, metadata={"description": "Building, floor and room."})
    place = fields.Nested(PlaceOut, allow_none=True, required=True)
    ticket_code = fields.Str(allow_none=True, required=True)
    ticket_token = fields.Str(allow_none=True, required=True)
    ahead = fields.Int(allow_none=True, required=True)
    eta_low_minutes = fields.Int(allow_none=True, required=True)
    eta_high_minutes = fields.Int(allow_none=True, required=True)
    amount_fen = fields.Int(allow_none=True, required=True)
    order_ids = fields.List(fields.Int(), required=True)
    at = fields.DateTime(allow_none=True, required=True)
    report_id = fields.Str(allow_none=True, required=True)


class TimelineEntryOut(Schema):
    kind = fields.Str(required=True)
    at = fields.DateTime(allow_none=True, required=True)
    time = fields.Str(
        required=True, metadata={"description": "HH:MM in the hospital's time zone ('' if none)."}
    )
    done = fields.Bool(required=True)
    text = fields.Str(required=True)
    ticket_code = fields.Str(allow_none=True, required=True)
    station = fields.Str(required=True)
    amount_fen = fields.Int(allow_none=True, required=True)


class VisitTicketOut(Schema):
    code = fields.Str(required=True)
    token = fields.Str(required=True, metadata={"description": "The ticket's live page token."})
    status = fields.Str(required=True)
    station = fields.Str(required=True)
    ahead = fields.Int(allow_none=True, required=True)


class VisitSummaryOut(Schema):
    code = fields.Str(required=True, metadata={"description": "The visit code (就诊码)."})
    service_date = fields.Date(required=True)
    masked_name = fields.Str(required=True)
    is_today = fields.Bool(required=True)


class VisitOut(VisitSummaryOut):
    next_step = fields.Nested(NextStepOut, required=True)
    timeline = fields.List(fields.Nested(TimelineEntryOut), required=True)
    tickets = fields.List(fields.Nested(VisitTicketOut), required=True)
    stops_avoided = fields.Int(
        required=True, metadata={"description": "Physical queues this visit did not stand in."}
    )
