"""What the billing API accepts (`...Args`, unknown fields refused) and what it shows.

Amounts are integer fen and never accepted from a payer: create-payment takes only the
provider, and the amount comes from the order in our database.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hospital.billing.models import ItemCategory, OrderPurpose, OrderStatus, RefundKind
from hospital.web.id_fields import id_field

PROVIDERS = ["sandbox", "alipay"]


class OrderItemArgs(Schema):
    fee_item_id = id_field(required=True)
    quantity = fields.Int(strict=True, load_default=1, validate=validate.Range(min=1, max=999))


class VisitOrderArgs(Schema):
    """Items a clinician or cashier orders for a patient during a visit (prices from the schedule)."""

    patient_id = id_field(required=True)
    visit_key = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Shared by the orders of one visit, e.g. appointment:42."},
    )
    items = fields.List(
        fields.Nested(OrderItemArgs), required=True, validate=validate.Length(min=1, max=50)
    )


class PaymentArgs(Schema):
    """Pay an order's self-pay amount with a provider (the amount is never sent by the client)."""

    provider = fields.Str(required=True, validate=validate.OneOf(PROVIDERS))


class RefundArgs(Schema):
    """A cashier's refund: a part (amount_fen) or, without amount_fen, everything left."""

    amount_fen = fields.Int(strict=True, validate=validate.Range(min=1, max=10**10))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=300))


class BillingDayArgs(Schema):
    date = fields.Date(required=True, metadata={"example": "2026-11-28"})


class ReceiptSizeArgs(Schema):
    size = fields.Str(load_default="a4", validate=validate.OneOf(["a4", "80mm"]))


class OrderItemOut(Schema):
    id = fields.Int()
    category = fields.Enum(ItemCategory, by_value=True)
    name_zh = fields.Str()
    name_en = fields.Str()
    unit_price_fen = fields.Int()
    quantity = fields.Int()
    amount_fen = fields.Int()
    insurance_fen = fields.Int()


class OrderOut(Schema):
    id = fields.Int()
    patient_id = fields.Int()
    purpose = fields.Enum(OrderPurpose, by_value=True)
    reference = fields.Str()
    status = fields.Enum(OrderStatus, by_value=True)
    currency = fields.Str()
    total_fen = fields.Int()
    insurance_applied = fields.Bool()
    insurance_fen = fields.Int()
    self_pay_fen = fields.Int()
    account_fen = fields.Int(
        metadata={"description": "Of self_pay_fen: paid from personal insurance accounts."}
    )
    cash_fen = fields.Int(
        metadata={"description": "Of self_pay_fen: what the payment provider collects."}
    )
    paid_fen = fields.Int()
    refunded_fen = fields.Int()
    refundable_fen = fields.Int()
    expires_at = fields.AwareDateTime()
    paid_at = fields.AwareDateTime()
    receipt_no = fields.Str()
    created_at = fields.AwareDateTime()
    items = fields.List(fields.Nested(OrderItemOut))


class StartedPaymentOut(Schema):
    payment_id = fields.Int(attribute="payment.id", allow_none=True)
    out_trade_no = fields.Str(attribute="payment.out_trade_no", allow_none=True)
    amount_fen = fields.Int(attribute="payment.amount_fen", allow_none=True)
    redirect_url = fields.Str()


class RefundOut(Schema):
    """One part of a refund: back to the cash payment, the fund, or an insurance account."""

    id = fields.Int()
    order_id = fields.Int()
    payment_id = fields.Int(
        allow_none=True,
        metadata={"description": "The payment refunded; null for an insurance account's share."},
    )
    account_charge_id = fields.Int(
        allow_none=True,
        metadata={
            "description": "The insurance account charge credited back; null for a payment's."
        },
    )
    source = fields.Str(
        metadata={
            "description": "Where the money goes: self_pay (the cash payment), insurance (the "
            "fund), personal_account (the patient's own insurance account) or family_account "
            "(a family member's, 家庭共济).",
            "enum": ["self_pay", "insurance", "personal_account", "family_account"],
        }
    )
    refund_no = fields.Str()
    amount_fen = fields.Int()
    kind = fields.Enum(RefundKind, by_value=True)
    reason = fields.Str()
    status = fields.Str()


class RegistrationFeeOut(Schema):
    fee_class = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    amount_fen = fields.Int()


class FeeItemOut(Schema):
    id = fields.Int()
    code = fields.Str()
    name_zh = fields.Str()
    name_en = fields.Str()
    category = fields.Enum(ItemCategory, by_value=True)
    price_fen = fields.Int()


class FeeScheduleOut(Schema):
    registration_fees = fields.List(fields.Nested(RegistrationFeeOut))
    items = fields.List(fields.Nested(FeeItemOut))


class ReconciliationLineOut(Schema):
    at = fields.AwareDateTime()
    kind = fields.Str()
    provider = fields.Str()
    order_id = fields.Int()
    receipt_no = fields.Str()
    provider_txn_id = fields.Str()
    amount_fen = fields.Int()


class ReconciliationOut(Schema):
    day = fields.Date()
    lines = fields.List(fields.Nested(ReconciliationLineOut))
    received_fen = fields.Dict(keys=fields.Str(), values=fields.Int())
    refunded_fen = fields.Dict(keys=fields.Str(), values=fields.Int())
    net_fen = fields.Int()


class InsuranceCodePaymentArgs(Schema):
    """Pay with the patient's insurance code; a family member's account pays too if named."""

    family_grant_id = id_field(
        load_default=None,
        allow_none=True,
        metadata={"description": "A 家庭共济 grant for this patient (see GET family-pool)."},
    )


class InsuranceActivationArgs(Schema):
    consent_code = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\d{6}$"),
        metadata={
            "description": "The code sent to the insured person's phone; not needed for "
            "oneself or at the desk."
        },
    )


class InsuranceConsentSentOut(Schema):
    retry_after = fields.Int(metadata={"description": "Seconds until another code may be sent."})


class InsuredPersonOut(Schema):
    patient_id = fields.Int()
    masked_name = fields.Str()
    activated = fields.Bool()
    consent = fields.Str(allow_none=True, metadata={"description": "self, consent_code or desk"})
    balance_fen = fields.Int(
        allow_none=True, metadata={"description": "Personal account balance; null if inactive."}
    )


class InsuranceVoucherOut(Schema):
    patient_id = fields.Int()
    consent = fields.Str(attribute="consent.value")
    activated_at = fields.AwareDateTime()


class ShownCodeOut(Schema):
    code = fields.Str(metadata={"description": "YB and 16 characters; scan or type it."})
    expires_at = fields.AwareDateTime()


class FamilyPoolGrantArgs(Schema):
    """Let your own insurance account pay a family member's self-pay part, within limits."""

    beneficiary_patient_id = id_field(required=True)
    per_payment_limit_fen = fields.Int(
        strict=True, required=True, validate=validate.Range(min=1, max=10**8)
    )
    monthly_limit_fen = fields.Int(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=10**8),
        metadata={
            "description": "Per calendar month; a per-payment limit above it is lowered to it."
        },
    )


class FamilyPoolGrantOut(Schema):
    id = fields.Int(attribute="grant.id")
    owner_patient_id = fields.Int(attribute="grant.owner_patient_id")
    owner_masked_name = fields.Str()
    beneficiary_patient_id = fields.Int(attribute="grant.beneficiary_patient_id")
    beneficiary_masked_name = fields.Str()
    per_payment_limit_fen = fields.Int(attribute="grant.per_payment_limit_fen")
    monthly_limit_fen = fields.Int(attribute="grant.monthly_limit_fen")
    used_this_month_fen = fields.Int()
    revoked = fields.Bool()
