"""What the consultation API accepts (`...Args`, unknown fields refused) and what it shows."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from consult.models import ConsultStatus
from hospital.web.id_fields import id_field

QUESTION_MAX = 2000
MESSAGE_MAX = 2000


class OffersArgs(Schema):
    patient_id = id_field(strict=False, required=True)


class AskArgs(Schema):
    """A question for a clinician; the fee comes from the clinician's settings, never the client."""

    patient_id = id_field(required=True)
    clinician_id = id_field(required=True)
    question = fields.Str(required=True, validate=validate.Length(min=1, max=QUESTION_MAX))
    emergency_acknowledged = fields.Bool(
        load_default=False,
        metadata={
            "description": "True once the asker has read the emergency warning a question naming "
            "red-flag symptoms gets (422 consult_emergency_warning until then)."
        },
    )


class ItemArgs(Schema):
    fee_item_id = id_field(required=True)
    quantity = fields.Int(strict=True, load_default=1, validate=validate.Range(min=1, max=99))


class ReplyArgs(Schema):
    """The clinician's answer; it may renew medicines, order lab tests or ask the patient to come."""

    body = fields.Str(required=True, validate=validate.Length(min=1, max=MESSAGE_MAX))
    prescription = fields.List(
        fields.Nested(ItemArgs), load_default=list, validate=validate.Length(max=20)
    )
    lab_tests = fields.List(
        fields.Nested(ItemArgs), load_default=list, validate=validate.Length(max=20)
    )
    come_back = fields.Bool(load_default=False)


class FollowUpArgs(Schema):
    body = fields.Str(required=True, validate=validate.Length(min=1, max=MESSAGE_MAX))


class DeclineArgs(Schema):
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=300))


class SettingArgs(Schema):
    is_offered = fields.Bool(required=True)
    open_to_all = fields.Bool(required=True)
    fee_fen = fields.Int(strict=True, required=True, validate=validate.Range(min=0, max=10**7))
    answer_hours = fields.Int(strict=True, required=True, validate=validate.Range(min=1, max=168))
    daily_cap = fields.Int(strict=True, required=True, validate=validate.Range(min=0, max=1000))


class OfferOut(Schema):
    clinician_id = fields.Int(required=True)
    name = fields.Str(required=True, metadata={"description": "In the reader's language."})
    department_id = fields.Int(required=True)
    is_offered = fields.Bool(required=True)
    open_to_all = fields.Bool(required=True)
    fee_fen = fields.Int(required=True)
    answer_hours = fields.Int(required=True)
    daily_cap = fields.Int(required=True)
    saw_patient = fields.Bool(
        required=True, metadata={"description": "The clinician saw this patient lately."}
    )


class MessageOut(Schema):
    id = fields.Int(required=True)
    from_clinician = fields.Bool(required=True)
    body = fields.Str(required=True)
    created_at = fields.DateTime(required=True)
    prescription_order_id = fields.Int(allow_none=True, required=True)
    lab_order_id = fields.Int(allow_none=True, required=True)
    come_back = fields.Bool(required=True)


class ConsultationOut(Schema):
    id = fields.Int(required=True)
    patient_id = fields.Int(required=True)
    masked_name = fields.Str(required=True)
    clinician_id = fields.Int(required=True)
    department_id = fields.Int(required=True)
    status = fields.Enum(ConsultStatus, by_value=True, required=True)
    question = fields.Str(required=True)
    fee_fen = fields.Int(required=True)
    order_id = fields.Int(
        allow_none=True,
        required=True,
        metadata={"description": "Billing's fee order (pay it with /api/v1/billing); null: free."},
    )
    created_at = fields.DateTime(required=True)
    pay_by = fields.DateTime(allow_none=True, required=True)
    answer_due_at = fields.DateTime(allow_none=True, required=True)
    answered_at = fields.DateTime(allow_none=True, required=True)
    closes_at = fields.DateTime(allow_none=True, required=True)
    decline_reason = fields.Str(required=True)
    messages = fields.List(fields.Nested(MessageOut), required=True)
