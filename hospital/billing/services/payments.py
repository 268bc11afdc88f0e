"""Start a payment of an order, and mark an order paid once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account
from hospital.billing.models import (
    LedgerKind,
    Order,
    OrderStatus,
    Payment,
    PaymentSource,
    PaymentStatus,
    RefundKind,
)
from hospital.billing.providers.base import Checkout, PaymentProvider
from hospital.billing.providers.registry import (
    UnknownProvider,
    enabled_provider_names,
    insurance_adapter,
    payment_provider,
)
from hospital.billing.services import accounts
from hospital.billing.services.ledger import _ledger, _locked_order, _order_for
from hospital.billing.services.refunds import (
    _REFUND_REASONS,
    _refund,
    _refund_payment,
    _tell_patient,
)
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput
from hospital.events import order_paid, payment_received
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission
from hospital.zones import zone_for

NOTIFY_PATH = "/billing/notify/{provider}"
RESULT_PATH = "/billing/orders/{order_id}/result"


def _public_url() -> str:
    return str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")


def _provider(name: str) -> PaymentProvider:
    try:
        return payment_provider(name, current_app.config)
    except UnknownProvider:
        raise InvalidInput(
            _l("This payment method is not available. Choose one of: {names}.").format(
                names=", ".join(enabled_provider_names(current_app.config))
            ),
            code=ErrorCode.UNKNOWN_PROVIDER,
        ) from None


@dataclass(frozen=True)
class StartedPayment:
    payment: Payment | None
    redirect_url: str


def _new_out_trade_no(*, now: datetime) -> str:
    return f"HQ{now:%Y%m%d}{secrets.token_hex(10)}"


def start_payment(
    order_id: int,
    *,
    actor: Account,
    provider_name: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> StartedPayment:
    """Open a payment of the order's self-pay amount (read from our database, never the client)."""
    order = _order_for(order_id, Permission.PAY, actor=actor)
    if idempotency_key:
        earlier = db.session.scalar(
            sa.select(Payment).where(
                Payment.payer_account_id == actor.id, Payment.idempotency_key == idempotency_key
            )
        )
        if earlier is not None:
            return _replay(earlier, order, now=now)
    order = _locked_order(order.id)
    if order.status != OrderStatus.PENDING:
        raise Conflict(
            _l("This order is no longer waiting for payment."), code=ErrorCode.ORDER_NOT_PAYABLE
        )
    if order.expires_at is not None and order.expires_at <= now:
        raise Conflict(
            _l("The reservation for this order has lapsed. Please book again."),
            code=ErrorCode.HOLD_EXPIRED,
        )
    result_url = _public_url() + RESULT_PATH.format(order_id=order.id)
    if order.cash_fen == 0:
        _mark_paid(order, None, now=now, payer=actor)
        return StartedPayment(None, result_url)
    provider = _provider(provider_name)
    payment = Payment(
        hospital_id=order.hospital_id,
        order_id=order.id,
        source=PaymentSource.SELF_PAY,
        provider=provider.name,
        out_trade_no=_new_out_trade_no(now=now),
        amount_fen=order.cash_fen,
        currency=order.currency,
        status=PaymentStatus.PENDING,
        payer_account_id=actor.id,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(payment)
    except IntegrityError:
        # The same Idempotency-Key raced us in another request: answer with its payment.
        earlier = db.session.scalar(
            sa.select(Payment).where(
                Payment.payer_account_id == actor.id, Payment.idempotency_key == idempotency_key
            )
        )
        if earlier is None:
            raise
        return _replay(earlier, order, now=now)
    url = provider.checkout_url(_checkout(order, payment), now=now)
    _ledger(
        order,
        LedgerKind.PAYMENT_STARTED,
        now=now,
        amount_fen=payment.amount_fen,
        payment=payment,
        actor=actor,
        detail={"provider": provider.name},
    )
    return StartedPayment(payment, url)


def _checkout(order: Order, payment: Payment) -> Checkout:
    return Checkout(
        hospital_id=order.hospital_id,
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        currency=payment.currency,
        subject=f"Order {order.id}",
        notify_url=_public_url() + NOTIFY_PATH.format(provider=payment.provider),
        return_url=_public_url() + RESULT_PATH.format(order_id=order.id),
    )


def _replay(earlier: Payment, order: Order, *, now: datetime) -> StartedPayment:
    if earlier.order_id != order.id:
        raise Conflict(
            _l("This Idempotency-Key was already used for another order. Use a new key."),
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    provider = _provider(earlier.provider)
    return StartedPayment(earlier, provider.checkout_url(_checkout(order, earlier), now=now))


def _receipt_no(order: Order, *, now: datetime) -> str:
    hospital = db.session.get(Hospital, order.hospital_id)
    assert hospital is not None, "an order names an existing hospital"
    return f"{now.astimezone(zone_for(hospital)):%Y%m%d}{order.id:08d}"


def _mark_paid(
    order: Order, payment: Payment | None, *, now: datetime, payer: Account | None
) -> None:
    """Pay the order once (self-pay payment plus the insured share), then tell scheduling."""
    won = execute_dml(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(
            status=OrderStatus.PAID,
            # The cash payment plus what personal insurance accounts hold for the order.
            paid_self_fen=(payment.amount_fen if payment is not None else 0) + order.account_fen,
            paid_at=now,
            paid_by_account_id=payer.id if payer is not None else None,
            receipt_no=_receipt_no(order, now=now),
            verification_token=secrets.token_urlsafe(24),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(order)
    if not won:
        if payment is not None:
            _refund_stray_payment(order, payment, kind=RefundKind.DUPLICATE_PAYMENT, now=now)
        return
    if payment is not None:
        payment.settles_order = True
    if order.account_fen > 0:
        accounts.settle_charges(order, now=now)
    if order.insurance_fen > 0:
        adapter = insurance_adapter(current_app.config)
        out_trade_no = _new_out_trade_no(now=now)
        settlement = adapter.settle(
            out_trade_no=out_trade_no, amount_fen=order.insurance_fen, now=now
        )
        insured = Payment(
            hospital_id=order.hospital_id,
            order_id=order.id,
            source=PaymentSource.INSURANCE,
            provider=adapter.name,
            out_trade_no=out_trade_no,
            provider_txn_id=settlement,
            amount_fen=order.insurance_fen,
            currency=order.currency,
            status=PaymentStatus.SUCCEEDED,
            settles_order=True,
            payer_account_id=payer.id if payer is not None else None,
            created_at=now,
            completed_at=now,
        )
        db.session.add(insured)
        db.session.flush()
        order.paid_insurance_fen = order.insurance_fen
        _ledger(
            order,
            LedgerKind.PAYMENT_SUCCEEDED,
            now=now,
            amount_fen=insured.amount_fen,
            payment=insured,
            dedupe_key=f"payment-succeeded:{insured.id}",
            detail={"provider": adapter.name, "txn": settlement},
        )
    db.session.flush()
    _ledger(
        order,
        LedgerKind.ORDER_PAID,
        now=now,
        amount_fen=order.total_fen,
        payment=payment,
        dedupe_key=f"order-paid:{order.id}",
    )
    answers = order_paid.send(
        "billing",
        order_id=order.id,
        hospital_id=order.hospital_id,
        purpose=order.purpose.value,
        reference=order.reference or "",
        patient_id=order.patient_id,
        visit_key=order.visit_key,
        categories=tuple(item.category.value for item in order.items),
        now=now,
    )
    # After order_paid (scheduling books the visit the payment is counted against), before a
    # late-payment refund below (so that refund is subtracted from it). A free order took no money.
    if order.paid_fen > 0:
        payment_received.send(
            "billing",
            order_id=order.id,
            hospital_id=order.hospital_id,
            amount_fen=order.paid_fen,
            patient_id=order.patient_id,
            # Every payment is started by the payer through a provider; there is no desk payment.
            online=True,
            reference=order.reference or "",
            now=now,
        )
    if any(value is False for _receiver, value in answers):
        # Scheduling cannot book it any more (the hold lapsed and the slot filled): refund all.
        _refund(
            order,
            order.refundable_fen,
            actor=None,
            kind=RefundKind.LATE_PAYMENT,
            reason="",
            now=now,
        )
        _tell_patient(order, "billing.late_payment_refunded", order.paid_fen, "", now=now)


def _refund_stray_payment(
    order: Order, payment: Payment, *, kind: RefundKind, now: datetime
) -> None:
    """Return in full a payment that does not pay the order (the order's totals stay as they are)."""
    amount = payment.amount_fen - payment.refunded_fen
    if amount <= 0:
        return
    refund = _refund_payment(order, payment, amount, kind=kind, reason="", actor=None, now=now)
    if refund is not None:
        template = (
            "billing.late_payment_refunded"
            if kind is RefundKind.LATE_PAYMENT
            else "billing.refunded"
        )
        _tell_patient(order, template, amount, str(_REFUND_REASONS[kind]), now=now)
