"""What the audit API accepts and shows."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from hospital.audit.record_access import MAX_PER_PAGE, PER_PAGE


class RecordAccessArgs(Schema):
    class Meta:
        unknown = RAISE

    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Int(load_default=PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class RecordAccessOut(Schema):
    at = fields.DateTime(metadata={"description": "When, in UTC."})
    local_time = fields.DateTime(metadata={"description": "When, in the hospital's time zone."})
    patient_id = fields.Int()
    patient_name = fields.Str()
    roles = fields.List(fields.Str(), metadata={"description": "The staff member's roles."})
    role_labels = fields.List(fields.Str(), metadata={"description": "The roles in plain words."})
    department_zh = fields.Str(allow_none=True)
    department_en = fields.Str(allow_none=True)
    action = fields.Str(metadata={"description": "The audit action, e.g. appointment.read."})
    what = fields.Str(metadata={"description": "What was opened, in plain words."})


class RecordAccessPageOut(Schema):
    items = fields.List(fields.Nested(RecordAccessOut))
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()
    pages = fields.Int()
