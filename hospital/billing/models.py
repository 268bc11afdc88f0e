"""Fees, orders, payments, refunds and the append-only money ledger.

Amounts are integer fen (1/100 CNY). Every rule that protects money is a database constraint
as well as a Python check: an order's refunds can never exceed what was paid for it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, make_append_only, utcnow

CURRENCY = "CNY"


class ItemCategory(enum.StrEnum):
    REGISTRATION = "registration"
    CONSULTATION = "consultation"
    LAB_TEST = "lab_test"
    IMAGING = "imaging"
    MEDICINE = "medicine"
    PROCEDURE = "procedure"


class OrderPurpose(enum.StrEnum):
    REGISTRATION = "registration"
    VISIT = "visit"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    EXPIRED = "expired"  # the hold lapsed before payment
    CANCELLED = "cancelled"  # voided before payment


class PaymentSource(enum.StrEnum):
    SELF_PAY = "self_pay"
    INSURANCE = "insurance"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # sent to the provider, no verified answer yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RefundKind(enum.StrEnum):
    POLICY = "policy"  # the patient cancelled
    HOSPITAL_CANCELLED = "hospital_cancelled"
    CASHIER = "cashier"
    LATE_PAYMENT = "late_payment"  # money arrived after the hold lapsed or the slot filled
    DUPLICATE_PAYMENT = "duplicate_payment"  # a second payment for an order already paid


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LedgerKind(enum.StrEnum):
    ORDER_CREATED = "order_created"
    INSURANCE_APPLIED = "insurance_applied"
    PAYMENT_STARTED = "payment_started"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    ORDER_PAID = "order_paid"
    ORDER_EXPIRED = "order_expired"
    ORDER_CANCELLED = "order_cancelled"
    REFUND_REQUESTED = "refund_requested"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"


class NotificationOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REFUSED = "refused"  # the signature did not verify
    IGNORED = "ignored"  # signed, but it does not match our order (amount, app, seller, id)


class RegistrationFee(Model):
    """The registration fee of one fee class (e.g. general, specialist, chief physician)."""

    __tablename__ = "billing_registration_fee"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "fee_class"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    fee_class: Mapped[str] = mapped_column(sa.String(40))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    amount_fen: Mapped[int] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)


class FeeItem(Model):
    """A priced item of the fee schedule: a lab test, an imaging study, a medicine, a procedure."""

    __tablename__ = "billing_fee_item"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "code"),
        sa.CheckConstraint("price_fen >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    category: Mapped[ItemCategory] = enum_column(ItemCategory)
    price_fen: Mapped[int] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)


class Order(Model):
    """What one patient owes for one purpose: the registration fee, or items ordered in a visit."""

    __tablename__ = "billing_order"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "reference"),
        sa.UniqueConstraint("hospital_id", "receipt_no"),
        sa.UniqueConstraint("verification_token"),
        sa.CheckConstraint("currency = 'CNY'", name="currency_cny"),
        sa.CheckConstraint("total_fen >= 0", name="total_not_negative"),
        sa.CheckConstraint(
            "insurance_fen >= 0 AND self_pay_fen >= 0 AND insurance_fen + self_pay_fen = total_fen",
            name="split_adds_up",
        ),
        sa.CheckConstraint(
            "paid_self_fen >= 0 AND paid_self_fen <= self_pay_fen", name="paid_self_bounded"
        ),
        sa.CheckConstraint(
            "paid_insurance_fen >= 0 AND paid_insurance_fen <= insurance_fen",
            name="paid_insurance_bounded",
        ),
        sa.CheckConstraint(
            "refunded_self_fen >= 0 AND refunded_self_fen <= paid_self_fen",
            name="refund_self_within_paid",
        ),
        sa.CheckConstraint(
            "refunded_insurance_fen >= 0 AND refunded_insurance_fen <= paid_insurance_fen",
            name="refund_insurance_within_paid",
        ),
        sa.CheckConstraint("deductible_fen >= 0", name="deductible_not_negative"),
        sa.Index("ix_billing_order_hospital_status", "hospital_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    purpose: Mapped[OrderPurpose] = enum_column(OrderPurpose)
    # "appointment:42" for a registration fee; one order per reference.
    reference: Mapped[str | None] = mapped_column(sa.String(64))
    # Orders of one visit share it; the insurance deductible applies once per visit.
    visit_key: Mapped[str] = mapped_column(sa.String(64), default="")
    status: Mapped[OrderStatus] = enum_column(OrderStatus, default=OrderStatus.PENDING)
    currency: Mapped[str] = mapped_column(sa.String(3), default=CURRENCY)
    total_fen: Mapped[int] = mapped_column(default=0)
    insurance_fen: Mapped[int] = mapped_column(default=0)
    self_pay_fen: Mapped[int] = mapped_column(default=0)
    deductible_fen: Mapped[int] = mapped_column(default=0)
    insurance_applied: Mapped[bool] = mapped_column(default=False)
    paid_self_fen: Mapped[int] = mapped_column(default=0)
    paid_insurance_fen: Mapped[int] = mapped_column(default=0)
    refunded_self_fen: Mapped[int] = mapped_column(default=0)
    refunded_insurance_fen: Mapped[int] = mapped_column(default=0)
    # The part of self_pay_fen that personal insurance accounts (the patient's own and a family
    # member's, 家庭共济) pay through the insurer; the payment provider collects only the rest.
    # Its charges (AccountCharge) are held when planned and settled when the order is paid.
    account_fen: Mapped[int] = mapped_column(default=0, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    receipt_no: Mapped[str | None] = mapped_column(sa.String(40))
    # Random; the receipt's QR code points at /billing/verify/<token>.
    verification_token: Mapped[str | None] = mapped_column(sa.String(43))
    created_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", lazy="selectin"
    )

    @property
    def paid_fen(self) -> int:
        return self.paid_self_fen + self.paid_insurance_fen

    @property
    def refunded_fen(self) -> int:
        return self.refunded_self_fen + self.refunded_insurance_fen

    @property
    def refundable_fen(self) -> int:
        return self.paid_fen - self.refunded_fen

    @property
    def cash_fen(self) -> int:
        """What the payment provider collects: the self-pay part less the insurance accounts'."""
        return self.self_pay_fen - self.account_fen


class OrderItem(Model):
    __tablename__ = "billing_order_item"
    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price_fen >= 0", name="price_not_negative"),
        sa.CheckConstraint(
            "amount_fen = unit_price_fen * quantity", name="amount_is_price_times_qty"
        ),
        sa.CheckConstraint(
            "insurance_fen >= 0 AND insurance_fen <= amount_fen", name="insurance_within_amount"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"), index=True)
    fee_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_fee_item.id"))
    category: Mapped[ItemCategory] = enum_column(ItemCategory)
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    unit_price_fen: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column(default=1)
    amount_fen: Mapped[int] = mapped_column()
    insurance_fen: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="items")


class Payment(Model):
    """One attempt to collect money for an order from one source (self-pay provider or insurance)."""

    __tablename__ = "billing_payment"
    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_txn_id"),
        sa.UniqueConstraint("out_trade_no"),
        sa.UniqueConstraint("payer_account_id", "idempotency_key"),
        sa.CheckConstraint("currency = 'CNY'", name="currency_cny"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"
        ),
        sa.CheckConstraint(
            "status <> 'succeeded' OR provider_txn_id IS NOT NULL", name="success_has_txn"
        ),
        sa.Index("ix_billing_payment_status_created", "status", "created_at"),
        # An order is paid at most once per source: only one payment may settle it.
        sa.Index(
            "uq_billing_payment_settling",
            "order_id",
            "source",
            unique=True,
            sqlite_where=sa.text("settles_order"),
            postgresql_where=sa.text("settles_order"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"), index=True)
    source: Mapped[PaymentSource] = enum_column(PaymentSource, default=PaymentSource.SELF_PAY)
    provider: Mapped[str] = mapped_column(sa.String(32))
    # Our id of the payment at the provider (Alipay's out_trade_no): random, not guessable.
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    provider_txn_id: Mapped[str | None] = mapped_column(sa.String(64))
    amount_fen: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(sa.String(3), default=CURRENCY)
    status: Mapped[PaymentStatus] = enum_column(PaymentStatus, default=PaymentStatus.PENDING)
    refunded_fen: Mapped[int] = mapped_column(default=0)
    # True for the payment that paid the order; a second success is a stray, refunded in full.
    settles_order: Mapped[bool] = mapped_column(default=False)
    payer_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship()


class Refund(Model):
    """Money returned to one payment's source, or to one insurance account charge.

    A refund of a provider or fund payment has payment_id; the share credited back to a
    personal insurance account (own or family, 家庭共济) has account_charge_id instead and is
    succeeded at once.
    """

    __tablename__ = "billing_refund"
    __table_args__ = (
        sa.UniqueConstraint("refund_no"),
        sa.UniqueConstraint("requested_by_account_id", "idempotency_key"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "(payment_id IS NULL) <> (account_charge_id IS NULL)", name="one_source"
        ),
        sa.Index("ix_billing_refund_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_payment.id"), index=True)
    account_charge_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("billing_account_charge.id"), index=True
    )
    refund_no: Mapped[str] = mapped_column(sa.String(64))
    amount_fen: Mapped[int] = mapped_column()
    kind: Mapped[RefundKind] = enum_column(RefundKind)
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[RefundStatus] = enum_column(RefundStatus, default=RefundStatus.PENDING)
    provider_refund_id: Mapped[str | None] = mapped_column(sa.String(64))
    requested_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment | None] = relationship()
    account_charge: Mapped[AccountCharge | None] = relationship()

    @property
    def source(self) -> str:
        """self_pay, insurance (the fund), personal_account or family_account."""
        if self.payment is not None:
            return self.payment.source.value
        assert self.account_charge is not None
        return f"{self.account_charge.source.value}_account"


class LedgerEntry(Model):
    """One state change of money, never updated or deleted."""

    __tablename__ = "billing_ledger_entry"
    __table_args__ = (
        # A provider payment succeeds once in the ledger, however often it is reported.
        sa.UniqueConstraint("dedupe_key"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        sa.Index("ix_billing_ledger_entry_hospital_at", "hospital_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[LedgerKind] = enum_column(LedgerKind)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_payment.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_refund.id"))
    amount_fen: Mapped[int] = mapped_column(default=0)
    actor_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
def _refuse_change(*_args: Any) -> None:
    raise RuntimeError("the billing ledger is append-only")


class ProviderNotification(Model):
    """Every notification a provider sent us and what we did with it (no card or personal data)."""

    __tablename__ = "billing_provider_notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    provider: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[NotificationOutcome] = enum_column(NotificationOutcome)
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    out_trade_no: Mapped[str] = mapped_column(sa.String(64), default="")
    provider_txn_id: Mapped[str] = mapped_column(sa.String(64), default="")
    body_sha256: Mapped[str] = mapped_column(sa.String(64), default="")


class SandboxTransaction(Model):
    """The sandbox provider's own record of a checkout, as a real provider keeps on its side."""

    __tablename__ = "billing_sandbox_transaction"
    __table_args__ = (sa.UniqueConstraint("out_trade_no"), sa.UniqueConstraint("txn_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    txn_id: Mapped[str] = mapped_column(sa.String(64))
    amount_fen: Mapped[int] = mapped_column()
    currency: Mapped[str] = mapped_column(sa.String(3), default=CURRENCY)
    # open -> succeeded | failed | cancelled, chosen by the payer on the checkout page
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    refunded_fen: Mapped[int] = mapped_column(default=0)
    notify_url: Mapped[str] = mapped_column(sa.String(300))
    return_url: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxDelivery(Model):
    """A signed notification the sandbox still has to deliver (with retries, maybe twice, late)."""

    __tablename__ = "billing_sandbox_delivery"
    __table_args__ = (sa.Index("ix_billing_sandbox_delivery_due", "delivered_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    out_trade_no: Mapped[str] = mapped_column(sa.String(64))
    notify_url: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.String(300), default="")


class VoucherConsent(enum.StrEnum):
    """How the activation of a medical-insurance code was agreed."""

    SELF = "self"  # the insured person activated it
    CONSENT_CODE = "consent_code"  # a family member, with the code sent to the person's phone
    DESK = "desk"  # registration staff saw the person's identity document


class InsuranceVoucher(Model):
    """A patient's activated medical-insurance code (医保电子凭证) at the insurer."""

    __tablename__ = "billing_insurance_voucher"
    __table_args__ = (
        sa.Index(
            "uq_billing_insurance_voucher_active",
            "patient_id",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    # The insurer's id of the insured person (never the identity number).
    insured_ref: Mapped[str] = mapped_column(sa.String(40))
    consent: Mapped[VoucherConsent] = enum_column(VoucherConsent)
    activated_by_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class FamilyPoolGrant(Model):
    """家庭共济: the owner's personal insurance account may pay the beneficiary's self-pay part.

    Given by the owner (the balance is theirs), within a limit per payment and per calendar month
    (the hospital's zone); revoked by the owner at any time.
    """

    __tablename__ = "billing_family_pool_grant"
    __table_args__ = (
        sa.CheckConstraint("owner_patient_id <> beneficiary_patient_id", name="not_to_oneself"),
        sa.CheckConstraint(
            "per_payment_limit_fen > 0 AND monthly_limit_fen >= per_payment_limit_fen",
            name="limits_make_sense",
        ),
        sa.Index(
            "uq_billing_family_pool_grant_active",
            "owner_patient_id",
            "beneficiary_patient_id",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    owner_patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    beneficiary_patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    per_payment_limit_fen: Mapped[int] = mapped_column()
    monthly_limit_fen: Mapped[int] = mapped_column()
    granted_by_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountSource(enum.StrEnum):
    PERSONAL = "personal"  # the patient's own personal insurance account
    FAMILY = "family"  # a family member's, through a FamilyPoolGrant


class ChargeStatus(enum.StrEnum):
    HELD = "held"  # debited at the insurer while the order waits for its cash part
    SETTLED = "settled"  # the order is paid
    RELEASED = "released"  # the order lapsed or was cancelled unpaid: credited back


class AccountCharge(Model):
    """Money a personal insurance account pays towards one order's self-pay part."""

    __tablename__ = "billing_account_charge"
    __table_args__ = (
        sa.UniqueConstraint("order_id", "source"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "refunded_fen >= 0 AND refunded_fen <= amount_fen", name="refund_within_amount"
        ),
        sa.CheckConstraint("(source = 'family') = (grant_id IS NOT NULL)", name="family_has_grant"),
        sa.Index("ix_billing_account_charge_grant_month", "grant_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"), index=True)
    source: Mapped[AccountSource] = enum_column(AccountSource)
    # Whose account pays: the order's patient (personal) or the grant's owner (family).
    payer_patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    insured_ref: Mapped[str] = mapped_column(sa.String(40))
    grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_family_pool_grant.id"))
    amount_fen: Mapped[int] = mapped_column()
    refunded_fen: Mapped[int] = mapped_column(default=0)
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM in the hospital's zone
    status: Mapped[ChargeStatus] = enum_column(ChargeStatus, default=ChargeStatus.HELD)
    txn_id: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SandboxInsured(Model):
    """The sandbox insurer's own record of an insured person and their personal account."""

    __tablename__ = "billing_sandbox_insured"
    __table_args__ = (
        sa.UniqueConstraint("insured_ref"),
        sa.UniqueConstraint("hospital_id", "person_key"),
        sa.CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    insured_ref: Mapped[str] = mapped_column(sa.String(40))
    # A keyed hash of the identity number: the sandbox keeps no identity numbers.
    person_key: Mapped[str] = mapped_column(sa.String(64))
    balance_fen: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxInsuranceCode(Model):
    """A code the sandbox insurer showed for an insured person; valid for a few minutes."""

    __tablename__ = "billing_sandbox_insurance_code"
    __table_args__ = (sa.UniqueConstraint("code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(24))
    insured_ref: Mapped[str] = mapped_column(sa.String(40), index=True)
    # Indexed for the job that forgets codes a day after they expire.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


make_append_only(LedgerEntry.__table__)
