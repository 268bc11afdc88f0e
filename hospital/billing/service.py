"""Orders, payments and refunds: the only writer of the billing tables.

Money rules (ARCHITECTURE invariant 6) are enforced by conditional updates, checked again by
database constraints: a payment succeeds once, an order is paid once, refunds never exceed
what was paid. A payment is believed only from a verified notification or a provider query,
never from the payer's return to our site.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.billing.insurance import Line
from hospital.billing.models import (
    CURRENCY,
    FeeItem,
    ItemCategory,
    LedgerEntry,
    LedgerKind,
    NotificationOutcome,
    Order,
    OrderItem,
    OrderPurpose,
    OrderStatus,
    Payment,
    PaymentSource,
    PaymentStatus,
    ProviderNotification,
    Refund,
    RefundKind,
    RefundStatus,
    RegistrationFee,
)
from hospital.billing.pricing import fen_to_yuan, policy_refund_fen, split_refund
from hospital.billing.providers.base import (
    Checkout,
    NotForUs,
    PaymentProvider,
    ProviderReport,
    ProviderUnavailable,
    SignatureError,
)
from hospital.billing.providers.registry import (
    UnknownProvider,
    enabled_provider_names,
    insurance_adapter,
    payment_provider,
)
from hospital.db import db
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.events import (
    appointment_cancelled,
    appointment_held,
    order_paid,
    payment_received,
    refund_issued,
)
from hospital.notifications.messages import register_template
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission, can_act_for, patients_acting_for
from hospital.patients.models import Patient
from hospital.web.id_fields import MAX_ID

log = logging.getLogger("hospital.billing")

STAFF_ORDERING_ROLES = (Role.CLINICIAN, Role.CASHIER, Role.ADMIN)
CASHIER_ROLES = (Role.CASHIER, Role.ADMIN)
REFUND_SUBMIT_ATTEMPTS = 8
NOTIFY_PATH = "/billing/notify/{provider}"
RESULT_PATH = "/billing/orders/{order_id}/result"

register_template(
    "billing.refunded",
    subject=_l("Refund of {amount}"),
    body=_l(
        "{hospital}: {amount} for order {order} is being refunded to where it was paid from. "
        "Reason: {reason}."
    ),
)
register_template(
    "billing.late_payment_refunded",
    subject=_l("Payment refunded: the reservation had lapsed"),
    body=_l(
        "{hospital}: your payment of {amount} for order {order} arrived after the reservation "
        "had lapsed or the slot was taken. It is refunded in full; please book again."
    ),
)

_REFUND_REASONS = {
    RefundKind.POLICY: _l("appointment cancelled"),
    RefundKind.HOSPITAL_CANCELLED: _l("the hospital cancelled the session"),
    RefundKind.LATE_PAYMENT: _l("payment arrived after the reservation lapsed"),
    RefundKind.DUPLICATE_PAYMENT: _l("the order was already paid"),
}


def _config(key: str, default: Any) -> Any:
    return current_app.config.get(f"BILLING_{key}", default)


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
            code="unknown_provider",
        ) from None


def _ledger(
    order: Order,
    kind: LedgerKind,
    *,
    now: datetime,
    amount_fen: int = 0,
    payment: Payment | None = None,
    refund: Refund | None = None,
    actor: Account | None = None,
    dedupe_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> LedgerEntry | None:
    """Append a ledger entry; with a dedupe_key, at most one such entry ever exists."""
    entry = LedgerEntry(
        hospital_id=order.hospital_id,
        at=now,
        kind=kind,
        order_id=order.id,
        payment_id=payment.id if payment is not None else None,
        refund_id=refund.id if refund is not None else None,
        amount_fen=amount_fen,
        actor_account_id=actor.id if actor is not None else None,
        dedupe_key=dedupe_key,
        detail=detail or {},
    )
    if dedupe_key is None:
        db.session.add(entry)
        db.session.flush()
        return entry
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        return None
    return entry


def _get_order(order_id: int) -> Order | None:
    """The order with this id; None for ids no row can have (the database would refuse them)."""
    if not isinstance(order_id, int) or not 0 < order_id <= MAX_ID:
        return None
    return db.session.get(Order, order_id)


def _order_for(actor: Account, order_id: int, permission: Permission) -> Order:
    """The order, if actor may act for its patient with permission; else NotFound (no leak)."""
    order = _get_order(order_id)
    if order is not None and order.hospital_id == actor.hospital_id:
        patient = db.session.get(Patient, order.patient_id)
        if patient is not None and can_act_for(actor, patient, permission):
            return order
    record(
        action="billing.order",
        outcome="denied",
        actor=actor,
        object_type="billing_order",
        object_id=str(order_id),
        detail={"permission": permission.value},
    )
    raise NotFound(
        _l("No order with this number is linked to your account."), code="order_not_found"
    )


def _locked_order(order_id: int) -> Order:
    """Re-read the order under a row lock (PostgreSQL; SQLite write transactions are serial)."""
    return db.session.execute(
        sa.select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


# ---- orders -------------------------------------------------------------------------------


def _registration_order_rows(new_order: Any) -> tuple[Any, Any]:
    """The item and ledger inserts of a new registration order whose id `new_order.c.id` gives."""
    fee = RegistrationFee.__table__
    item = sa.insert(OrderItem.__table__).from_select(
        [
            "hospital_id",
            "order_id",
            "category",
            "name_zh",
            "name_en",
            "unit_price_fen",
            "quantity",
            "amount_fen",
            "insurance_fen",
        ],
        sa.select(
            sa.bindparam("hospital_id", type_=sa.Integer),
            new_order.c.id,
            sa.literal(ItemCategory.REGISTRATION.value, sa.String),
            sa.func.coalesce(fee.c.name_zh, "挂号费"),
            sa.func.coalesce(fee.c.name_en, "Registration fee"),
            sa.bindparam("fee_fen", type_=sa.Integer),
            sa.literal(1, sa.Integer),
            sa.bindparam("fee_fen", type_=sa.Integer),
            sa.literal(0, sa.Integer),
        ).select_from(
            new_order.outerjoin(
                fee,
                sa.and_(
                    fee.c.hospital_id == sa.bindparam("hospital_id", type_=sa.Integer),
                    fee.c.fee_class == sa.bindparam("fee_class", type_=sa.String),
                ),
            )
        ),
    )
    ledger_table = LedgerEntry.__table__
    ledger = sa.insert(ledger_table).from_select(
        ["hospital_id", "at", "kind", "order_id", "amount_fen", "detail"],
        sa.select(
            sa.bindparam("hospital_id", type_=sa.Integer),
            sa.bindparam("now", type_=ledger_table.c.at.type),
            sa.literal(LedgerKind.ORDER_CREATED.value, sa.String),
            new_order.c.id,
            sa.bindparam("fee_fen", type_=sa.Integer),
            sa.bindparam("empty_detail", value={}, type_=ledger_table.c.detail.type),
        ).select_from(new_order),
    )
    return item, ledger


def _new_order_insert() -> Any:
    """Insert the pending registration order unless its reference exists; return its id."""
    order = Order.__table__
    columns = {
        "hospital_id": sa.bindparam("hospital_id", type_=sa.Integer),
        "patient_id": sa.bindparam("patient_id", type_=sa.Integer),
        "purpose": sa.literal(OrderPurpose.REGISTRATION.value, sa.String),
        "reference": sa.bindparam("reference", type_=sa.String),
        "visit_key": sa.bindparam("reference", type_=sa.String),
        "status": sa.literal(OrderStatus.PENDING.value, sa.String),
        "currency": sa.literal(CURRENCY, sa.String),
        "total_fen": sa.bindparam("fee_fen", type_=sa.Integer),
        "insurance_fen": sa.literal(0, sa.Integer),
        "self_pay_fen": sa.bindparam("fee_fen", type_=sa.Integer),
        "expires_at": sa.bindparam("expires_at", type_=order.c.expires_at.type),
        "created_by_account_id": sa.bindparam("account_id", type_=sa.Integer),
        "created_at": sa.bindparam("now", type_=order.c.created_at.type),
    }
    exists = sa.exists().where(
        order.c.hospital_id == sa.bindparam("hospital_id", type_=sa.Integer),
        order.c.reference == sa.bindparam("reference", type_=sa.String),
    )
    # Not ON CONFLICT: the dialects' own insert constructs are not cached by SQLAlchemy, and this
    # runs once per successful hold. A concurrent duplicate would fail on the unique constraint.
    return (
        sa.insert(order)
        .from_select(list(columns), sa.select(*columns.values()).where(~exists))
        .returning(order.c.id)
    )


# Every successful hold creates a registration order inside the hold's transaction, so during a
# release rush these statements are built once: on PostgreSQL the order, its item and its ledger
# entry are one round trip (data-modifying CTEs); SQLite runs the same three inserts in turn.
_PG_NEW_ORDER = _new_order_insert().cte("new_order")
_PG_ITEM, _PG_LEDGER = _registration_order_rows(_PG_NEW_ORDER)
_PG_REGISTRATION_ORDER = _PG_LEDGER.add_cte(_PG_ITEM.cte("new_item")).returning(
    LedgerEntry.__table__.c.order_id
)
_SQLITE_NEW_ORDER = _new_order_insert()
_SQLITE_ITEM, _SQLITE_LEDGER = _registration_order_rows(
    sa.select(sa.bindparam("order_id", type_=sa.Integer).label("id")).subquery("new_order")
)


def create_registration_order(
    *,
    hospital_id: int,
    patient_id: int,
    appointment_id: int,
    fee_fen: int,
    fee_class: str,
    expires_at: datetime | None,
    account_id: int | None,
    now: datetime,
) -> int | None:
    """Create the registration-fee order of a held appointment and return its id.

    None when the fee is zero or the appointment already has its order.
    """
    if fee_fen <= 0:
        return None
    return _insert_registration_order(
        {
            "hospital_id": hospital_id,
            "patient_id": patient_id,
            "reference": f"appointment:{appointment_id}",
            "fee_fen": fee_fen,
            "fee_class": fee_class,
            "expires_at": expires_at,
            "account_id": account_id,
            "now": now,
        }
    )


def registration_fee_fen(hospital_id: int, fee_class: str) -> int:
    """The active registration fee of a fee class; 0 when the hospital charges none for it."""
    amount = db.session.scalar(
        sa.select(RegistrationFee.amount_fen).where(
            RegistrationFee.hospital_id == hospital_id,
            RegistrationFee.fee_class == fee_class,
            RegistrationFee.is_active.is_(True),
        )
    )
    return int(amount or 0)


def walk_in_reference(walk_in_key: str | int) -> str:
    return f"walk-in:{walk_in_key}"


def _walk_in_fee_class() -> str:
    # A setting of the kiosk's (where walk-ins register), read here where fees are priced.
    return str(current_app.config.get("KIOSK_WALK_IN_FEE_CLASS", "general"))


def walk_in_fee_fen(hospital_id: int) -> int:
    """What a same-day walk-in ticket costs: the fee of the walk-in fee class (0: free)."""
    return registration_fee_fen(hospital_id, _walk_in_fee_class())


def create_walk_in_order(
    *,
    hospital_id: int,
    patient_id: int,
    walk_in_key: str | int,
    account_id: int | None,
    now: datetime,
    expires_at: datetime | None = None,
) -> Order | None:
    """The registration-fee order of a same-day walk-in (no appointment); None when it is free.

    Its fee is the walk-in fee (walk_in_fee_fen), never the caller's. When it is paid,
    order_paid carries the reference `walk-in:<key>` and the module that owns the walk-in
    answers whether it could still serve it (False: billing refunds the payment in full).
    """
    fee_class = _walk_in_fee_class()
    fee_fen = registration_fee_fen(hospital_id, fee_class)
    if fee_fen <= 0:
        return None
    order_id = _insert_registration_order(
        {
            "hospital_id": hospital_id,
            "patient_id": patient_id,
            "reference": walk_in_reference(walk_in_key),
            "fee_fen": fee_fen,
            "fee_class": fee_class,
            "expires_at": expires_at,
            "account_id": account_id,
            "now": now,
        }
    )
    if order_id is None:
        raise Conflict(
            _l("This walk-in registration already has its order. Start again."),
            code="walk_in_order_exists",
        )
    return db.session.get(Order, order_id)


def _insert_registration_order(params: dict[str, Any]) -> int | None:
    """Insert a pending registration order with its item and ledger entry; None if it exists."""
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(_PG_REGISTRATION_ORDER, params).scalar()
    order_id = db.session.execute(_SQLITE_NEW_ORDER, params).scalar()
    if order_id is None:
        return None
    params["order_id"] = order_id
    db.session.execute(_SQLITE_ITEM, params)
    db.session.execute(_SQLITE_LEDGER, params)
    return order_id


@dataclass(frozen=True)
class ItemRequest:
    fee_item_id: int
    quantity: int


def create_visit_order(
    actor: Account,
    *,
    patient_id: int,
    items: Sequence[ItemRequest],
    visit_key: str,
    now: datetime,
) -> Order:
    """Staff order tests, imaging, medicines or procedures for a patient; prices from the schedule."""
    if not actor.has_role(*STAFF_ORDERING_ROLES):
        raise Forbidden(_l("Only clinicians and cashiers can add orders."), code="role_required")
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != actor.hospital_id:
        raise NotFound(_l("No patient with this id."), code="patient_not_found")
    if not items:
        raise InvalidInput(_l("Add at least one item to the order."), code="order_empty")
    wanted = {i.fee_item_id for i in items}
    fee_items = {
        f.id: f
        for f in db.session.scalars(
            sa.select(FeeItem).where(
                FeeItem.id.in_(wanted),
                FeeItem.hospital_id == actor.hospital_id,
                FeeItem.is_active.is_(True),
            )
        )
    }
    unknown = sorted(wanted - fee_items.keys())
    if unknown:
        raise InvalidInput(
            _l("These items are not in the fee schedule: {ids}.").format(
                ids=", ".join(map(str, unknown))
            ),
            code="unknown_fee_item",
        )
    total = sum(fee_items[i.fee_item_id].price_fen * i.quantity for i in items)
    order = Order(
        hospital_id=actor.hospital_id,
        patient_id=patient.id,
        purpose=OrderPurpose.VISIT,
        reference=None,
        visit_key=visit_key,
        status=OrderStatus.PENDING,
        currency=CURRENCY,
        total_fen=total,
        insurance_fen=0,
        self_pay_fen=total,
        created_by_account_id=actor.id,
        created_at=now,
    )
    db.session.add(order)
    db.session.flush()
    order.reference = f"visit-order:{order.id}"
    for request_item in items:
        fee_item = fee_items[request_item.fee_item_id]
        db.session.add(
            OrderItem(
                hospital_id=order.hospital_id,
                order_id=order.id,
                fee_item_id=fee_item.id,
                category=fee_item.category,
                name_zh=fee_item.name_zh,
                name_en=fee_item.name_en,
                unit_price_fen=fee_item.price_fen,
                quantity=request_item.quantity,
                amount_fen=fee_item.price_fen * request_item.quantity,
            )
        )
    db.session.flush()
    db.session.refresh(order)
    _ledger(order, LedgerKind.ORDER_CREATED, now=now, amount_fen=total, actor=actor)
    record(
        action="billing.order_created",
        actor=actor,
        object_type="billing_order",
        object_id=str(order.id),
        patient_id=patient.id,
    )
    return order


def apply_insurance(actor: Account, order_id: int, *, now: datetime) -> Order:
    """Split a pending order into the insured share and the patient's self-pay part."""
    order = _order_for(actor, order_id, Permission.PAY)
    order = _locked_order(order.id)
    if order.status != OrderStatus.PENDING:
        raise Conflict(_l("This order is no longer waiting for payment."), code="order_not_payable")
    if order.insurance_applied:
        return order
    used = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Order.deductible_fen), 0)).where(
            Order.hospital_id == order.hospital_id,
            Order.patient_id == order.patient_id,
            Order.visit_key == order.visit_key,
            Order.insurance_applied.is_(True),
            Order.id != order.id,
            Order.status.notin_([OrderStatus.CANCELLED, OrderStatus.EXPIRED]),
        )
    )
    adapter = insurance_adapter(current_app.config)
    split = adapter.quote(
        [Line(item.id, item.category.value, item.amount_fen) for item in order.items],
        deductible_used_fen=int(used or 0),
    )
    for item in order.items:
        item.insurance_fen = split.covered_by_line.get(item.id, 0)
    order.insurance_fen = split.insurance_fen
    order.self_pay_fen = order.total_fen - split.insurance_fen
    order.deductible_fen = split.deductible_applied_fen
    order.insurance_applied = True
    db.session.flush()
    _ledger(
        order,
        LedgerKind.INSURANCE_APPLIED,
        now=now,
        amount_fen=order.insurance_fen,
        actor=actor,
        detail={"self_pay_fen": order.self_pay_fen, "deductible_fen": order.deductible_fen},
    )
    return order


# ---- payments -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StartedPayment:
    payment: Payment | None
    redirect_url: str


def _new_out_trade_no(now: datetime) -> str:
    return f"HQ{now:%Y%m%d}{secrets.token_hex(10)}"


def start_payment(
    actor: Account,
    order_id: int,
    *,
    provider_name: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> StartedPayment:
    """Open a payment of the order's self-pay amount (read from our database, never the client)."""
    order = _order_for(actor, order_id, Permission.PAY)
    if idempotency_key:
        earlier = db.session.scalar(
            sa.select(Payment).where(
                Payment.payer_account_id == actor.id, Payment.idempotency_key == idempotency_key
            )
        )
        if earlier is not None:
            return _replay(earlier, order, now)
    order = _locked_order(order.id)
    if order.status != OrderStatus.PENDING:
        raise Conflict(_l("This order is no longer waiting for payment."), code="order_not_payable")
    if order.expires_at is not None and order.expires_at <= now:
        raise Conflict(
            _l("The reservation for this order has lapsed. Please book again."), code="hold_expired"
        )
    result_url = _public_url() + RESULT_PATH.format(order_id=order.id)
    if order.self_pay_fen == 0:
        _mark_paid(order, None, now=now, payer=actor)
        return StartedPayment(None, result_url)
    provider = _provider(provider_name)
    payment = Payment(
        hospital_id=order.hospital_id,
        order_id=order.id,
        source=PaymentSource.SELF_PAY,
        provider=provider.name,
        out_trade_no=_new_out_trade_no(now),
        amount_fen=order.self_pay_fen,
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
        return _replay(earlier, order, now)
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


def _replay(earlier: Payment, order: Order, now: datetime) -> StartedPayment:
    if earlier.order_id != order.id:
        raise Conflict(
            _l("This Idempotency-Key was already used for another order. Use a new key."),
            code="idempotency_key_reused",
        )
    provider = _provider(earlier.provider)
    return StartedPayment(earlier, provider.checkout_url(_checkout(order, earlier), now=now))


@dataclass(frozen=True)
class NotificationResult:
    accepted: bool
    refused: bool  # the signature did not verify
    outcome: NotificationOutcome
    reason: str = ""


def handle_notification(
    provider_name: str, headers: Mapping[str, str], body: bytes, *, now: datetime
) -> NotificationResult:
    """Verify a provider's notification, then settle the payment it reports (at most once)."""
    provider = _provider(provider_name)
    digest = hashlib.sha256(body).hexdigest()
    try:
        report = provider.verify_notification(headers, body, now=now)
    except SignatureError as exc:
        log.warning("refused %s notification: %s", provider_name, exc)
        # Written through the audit log so the entry survives the refused request's rollback.
        record(
            action="billing.notification_refused",
            outcome="denied",
            detail={"provider": provider_name, "reason": str(exc), "body_sha256": digest},
        )
        return NotificationResult(False, True, NotificationOutcome.REFUSED, str(exc))
    except NotForUs as exc:
        return _ignored(provider_name, None, digest, str(exc), now)
    payment = db.session.scalar(
        sa.select(Payment).where(
            Payment.provider == provider.name, Payment.out_trade_no == report.out_trade_no
        )
    )
    if payment is None:
        return _ignored(provider_name, report, digest, "unknown out_trade_no", now)
    if report.amount_fen != payment.amount_fen or (
        report.currency is not None and report.currency != payment.currency
    ):
        return _ignored(provider_name, report, digest, "amount does not match", now, payment)
    outcome = _apply_report(payment, report, now=now)
    _log_notification(provider_name, report, digest, outcome, "", now, payment.hospital_id)
    return NotificationResult(True, False, outcome)


def _ignored(
    provider_name: str,
    report: ProviderReport | None,
    digest: str,
    reason: str,
    now: datetime,
    payment: Payment | None = None,
) -> NotificationResult:
    log.warning(
        "ignored %s notification for %s: %s",
        provider_name,
        report.out_trade_no if report else "?",
        reason,
    )
    hospital_id = payment.hospital_id if payment is not None else None
    _log_notification(
        provider_name, report, digest, NotificationOutcome.IGNORED, reason, now, hospital_id
    )
    return NotificationResult(False, False, NotificationOutcome.IGNORED, reason)


def _log_notification(
    provider_name: str,
    report: ProviderReport | None,
    digest: str,
    outcome: NotificationOutcome,
    reason: str,
    now: datetime,
    hospital_id: int | None,
) -> None:
    db.session.add(
        ProviderNotification(
            hospital_id=hospital_id,
            provider=provider_name,
            received_at=now,
            outcome=outcome,
            reason=reason[:200],
            out_trade_no=(report.out_trade_no if report else "")[:64],
            provider_txn_id=(report.provider_txn_id if report else "")[:64],
            body_sha256=digest,
        )
    )
    db.session.flush()


def _apply_report(
    payment: Payment, report: ProviderReport, *, now: datetime
) -> NotificationOutcome:
    if report.status == "succeeded":
        return _payment_succeeded(payment, report.provider_txn_id, now=now)
    if report.status == "failed":
        changed = db.session.execute(
            sa.update(Payment)
            .where(Payment.id == payment.id, Payment.status == PaymentStatus.PENDING)
            .values(status=PaymentStatus.FAILED, completed_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.refresh(payment)
        if not changed:
            return NotificationOutcome.DUPLICATE
        order = db.session.get(Order, payment.order_id)
        assert order is not None
        _ledger(
            order,
            LedgerKind.PAYMENT_FAILED,
            now=now,
            payment=payment,
            dedupe_key=f"payment-failed:{payment.id}",
        )
        return NotificationOutcome.ACCEPTED
    return NotificationOutcome.DUPLICATE  # still pending: nothing to do yet


def _payment_succeeded(payment: Payment, txn_id: str, *, now: datetime) -> NotificationOutcome:
    if not txn_id:
        raise ValueError("a successful payment needs the provider's transaction id")
    # The one statement that decides who records the success: concurrent or repeated
    # notifications find the row already succeeded and change nothing.
    won = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status != PaymentStatus.SUCCEEDED)
        .values(status=PaymentStatus.SUCCEEDED, provider_txn_id=txn_id, completed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(payment)
    if not won:
        return NotificationOutcome.DUPLICATE
    order = _locked_order(payment.order_id)
    _ledger(
        order,
        LedgerKind.PAYMENT_SUCCEEDED,
        now=now,
        amount_fen=payment.amount_fen,
        payment=payment,
        dedupe_key=f"payment-succeeded:{payment.id}",
        detail={"provider": payment.provider, "txn": txn_id},
    )
    fits = (
        order.status == OrderStatus.PENDING
        and payment.amount_fen == order.self_pay_fen
        and payment.currency == order.currency
    )
    if not fits:
        # Paid twice, paid after the order lapsed, or for an amount that is no longer due.
        late = order.status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
        _refund_stray_payment(
            order,
            payment,
            kind=RefundKind.LATE_PAYMENT if late else RefundKind.DUPLICATE_PAYMENT,
            now=now,
        )
        return NotificationOutcome.ACCEPTED
    payer = db.session.get(Account, payment.payer_account_id) if payment.payer_account_id else None
    _mark_paid(order, payment, now=now, payer=payer)
    return NotificationOutcome.ACCEPTED


def _receipt_no(order: Order, now: datetime) -> str:
    hospital = db.session.get(Hospital, order.hospital_id)
    zone = ZoneInfo(hospital.timezone if hospital else "Asia/Shanghai")
    return f"{now.astimezone(zone):%Y%m%d}{order.id:08d}"


def _mark_paid(
    order: Order, payment: Payment | None, *, now: datetime, payer: Account | None
) -> None:
    """Pay the order once (self-pay payment plus the insured share), then tell scheduling."""
    won = db.session.execute(
        sa.update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(
            status=OrderStatus.PAID,
            paid_self_fen=payment.amount_fen if payment is not None else 0,
            paid_at=now,
            paid_by_account_id=payer.id if payer is not None else None,
            receipt_no=_receipt_no(order, now),
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
    if order.insurance_fen > 0:
        adapter = insurance_adapter(current_app.config)
        out_trade_no = _new_out_trade_no(now)
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
            # Every payment is started by the payer through a provider; there is no desk payment.
            online=True,
            reference=order.reference or "",
            now=now,
        )
    if any(value is False for _receiver, value in answers):
        # Scheduling cannot book it any more (the hold lapsed and the slot filled): refund all.
        _refund(order, None, order.refundable_fen, kind=RefundKind.LATE_PAYMENT, reason="", now=now)
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


def reconcile_pending_payments(now: datetime, *, older_than: timedelta | None = None) -> int:
    """Ask providers about payments pending longer than N minutes; settle each once."""
    if older_than is None:
        older_than = timedelta(minutes=int(_config("RECONCILE_AFTER_MINUTES", 5)))
    pending = db.session.scalars(
        sa.select(Payment)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.source == PaymentSource.SELF_PAY,
            Payment.created_at <= now - older_than,
        )
        .order_by(Payment.created_at)
        .limit(200)
    ).all()
    settled = 0
    for payment in pending:
        try:
            provider = payment_provider(payment.provider, current_app.config)
            report = provider.query(payment.out_trade_no, now=now)
        except (UnknownProvider, ProviderUnavailable) as exc:
            log.warning("could not query %s payment %s: %s", payment.provider, payment.id, exc)
            continue
        if report is None:
            if payment.created_at <= now - timedelta(days=1):
                payment.status = PaymentStatus.CANCELLED
                payment.completed_at = now
            continue
        if report.amount_fen != payment.amount_fen:
            log.error("provider reports another amount for payment %s; not settled", payment.id)
            continue
        if _apply_report(payment, report, now=now) is NotificationOutcome.ACCEPTED:
            settled += 1
    db.session.flush()
    return settled


# ---- refunds ------------------------------------------------------------------------------


def refund_order(
    actor: Account | None,
    order_id: int,
    *,
    amount_fen: int | None,
    kind: RefundKind,
    reason: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> list[Refund]:
    """Refund part or all of what was paid, back to each source in proportion."""
    if actor is not None:
        if not actor.has_role(*CASHIER_ROLES):
            raise Forbidden(_l("Only cashiers can refund."), code="role_required")
        order = _get_order(order_id)
        if order is None or order.hospital_id != actor.hospital_id:
            raise NotFound(_l("No order with this number."), code="order_not_found")
        if not reason.strip():
            raise InvalidInput(_l("Give a reason for the refund."), code="reason_required")
        if idempotency_key:
            earlier = db.session.scalars(
                sa.select(Refund).where(
                    Refund.requested_by_account_id == actor.id,
                    Refund.idempotency_key.in_(
                        [f"{idempotency_key}#{s.value}" for s in PaymentSource]
                    ),
                )
            ).all()
            if earlier:
                if any(r.order_id != order_id for r in earlier):
                    raise Conflict(
                        _l(
                            "This Idempotency-Key was already used for another refund. Use a new key."
                        ),
                        code="idempotency_key_reused",
                    )
                return list(earlier)
    if amount_fen is not None and amount_fen <= 0:
        raise InvalidInput(_l("A refund must be more than zero."), code="amount_not_positive")
    order = _locked_order(order_id)
    refunds = _refund(
        order,
        actor,
        amount_fen,
        kind=kind,
        reason=reason.strip(),
        now=now,
        idempotency_key=idempotency_key,
    )
    if actor is not None:
        record(
            action="billing.refund",
            actor=actor,
            object_type="billing_order",
            object_id=str(order.id),
            patient_id=order.patient_id,
            detail={"amount_fen": sum(r.amount_fen for r in refunds), "reason": reason[:200]},
        )
    return refunds


def _refund(
    order: Order,
    actor: Account | None,
    amount_fen: int | None,
    *,
    kind: RefundKind,
    reason: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> list[Refund]:
    if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        raise Conflict(_l("Only a paid order can be refunded."), code="order_not_paid")
    remaining = {
        PaymentSource.SELF_PAY.value: order.paid_self_fen - order.refunded_self_fen,
        PaymentSource.INSURANCE.value: order.paid_insurance_fen - order.refunded_insurance_fen,
    }
    left = sum(remaining.values())
    amount = left if amount_fen is None else amount_fen
    if amount <= 0:
        raise Conflict(
            _l("Everything paid for this order is already refunded."), code="nothing_to_refund"
        )
    if amount > left:
        raise Conflict(
            _l("At most {amount} can still be refunded for this order.").format(
                amount=fen_to_yuan(left)
            ),
            code="refund_exceeds_paid",
        )
    parts = split_refund(amount, remaining)
    self_part = parts.get(PaymentSource.SELF_PAY.value, 0)
    insured_part = parts.get(PaymentSource.INSURANCE.value, 0)
    # Conditional on the totals still fitting: a concurrent refund that got there first
    # makes this one fail instead of refunding more than was paid.
    reserved = db.session.execute(
        sa.update(Order)
        .where(
            Order.id == order.id,
            Order.refunded_self_fen + self_part <= Order.paid_self_fen,
            Order.refunded_insurance_fen + insured_part <= Order.paid_insurance_fen,
        )
        .values(
            refunded_self_fen=Order.refunded_self_fen + self_part,
            refunded_insurance_fen=Order.refunded_insurance_fen + insured_part,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not reserved:
        raise Conflict(
            _l("Another refund changed this order just now. Reload and try again."),
            code="refund_conflict",
        )
    db.session.refresh(order)
    order.status = (
        OrderStatus.REFUNDED
        if order.refunded_fen >= order.paid_fen
        else OrderStatus.PARTIALLY_REFUNDED
    )
    refunds = []
    for source, part in (
        (PaymentSource.SELF_PAY, self_part),
        (PaymentSource.INSURANCE, insured_part),
    ):
        if part <= 0:
            continue
        payment = db.session.scalar(
            sa.select(Payment).where(
                Payment.order_id == order.id,
                Payment.source == source,
                Payment.settles_order.is_(True),
            )
        )
        if payment is None:
            raise RuntimeError(f"order {order.id} is paid but has no settling {source} payment")
        refund = _refund_payment(
            order,
            payment,
            part,
            kind=kind,
            reason=reason,
            actor=actor,
            now=now,
            idempotency_key=f"{idempotency_key}#{source.value}" if idempotency_key else None,
        )
        if refund is None:
            raise Conflict(
                _l("Another refund changed this order just now. Reload and try again."),
                code="refund_conflict",
            )
        refunds.append(refund)
    db.session.flush()
    return refunds


def _refund_payment(
    order: Order,
    payment: Payment,
    amount: int,
    *,
    kind: RefundKind,
    reason: str,
    actor: Account | None,
    now: datetime,
    idempotency_key: str | None = None,
) -> Refund | None:
    taken = db.session.execute(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.refunded_fen + amount <= Payment.amount_fen)
        .values(refunded_fen=Payment.refunded_fen + amount)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(payment)
    if not taken:
        return None
    refund = Refund(
        hospital_id=order.hospital_id,
        order_id=order.id,
        payment_id=payment.id,
        refund_no="RF" + secrets.token_hex(12),
        amount_fen=amount,
        kind=kind,
        reason=reason or str(_REFUND_REASONS.get(kind, "")),
        status=RefundStatus.PENDING,
        requested_by_account_id=actor.id if actor is not None else None,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    db.session.add(refund)
    db.session.flush()
    _ledger(
        order,
        LedgerKind.REFUND_REQUESTED,
        now=now,
        amount_fen=amount,
        payment=payment,
        refund=refund,
        actor=actor,
        detail={"kind": kind.value},
    )
    submit_refund(refund, now=now)
    return refund


def _refund_backend(payment: Payment) -> Any:
    if payment.source == PaymentSource.INSURANCE:
        return insurance_adapter(current_app.config)
    return payment_provider(payment.provider, current_app.config)


def submit_refund(refund: Refund, *, now: datetime) -> None:
    """Ask the payment's source to return the money; a failure is retried by a job."""
    if refund.status != RefundStatus.PENDING:
        return
    payment = refund.payment
    refund.attempts += 1
    try:
        backend = _refund_backend(payment)
        refund.provider_refund_id = backend.refund(
            out_trade_no=payment.out_trade_no,
            provider_txn_id=payment.provider_txn_id or "",
            refund_no=refund.refund_no,
            amount_fen=refund.amount_fen,
            now=now,
        )
    except (UnknownProvider, ProviderUnavailable) as exc:
        refund.last_error = str(exc)[:300]
        if refund.attempts >= REFUND_SUBMIT_ATTEMPTS:
            refund.status = RefundStatus.FAILED
            log.error("refund %s failed for good: %s; a cashier must act", refund.id, exc)
            _ledger(
                db.session.get(Order, refund.order_id),  # type: ignore[arg-type]
                LedgerKind.REFUND_FAILED,
                now=now,
                amount_fen=refund.amount_fen,
                payment=payment,
                refund=refund,
                dedupe_key=f"refund-failed:{refund.id}",
            )
        db.session.flush()
        return
    refund.status = RefundStatus.SUCCEEDED
    refund.completed_at = now
    db.session.flush()
    if payment.settles_order:
        # A stray (duplicate or late) payment was never counted as received: its refund is not
        # reported either.
        refund_issued.send(
            "billing",
            order_id=refund.order_id,
            hospital_id=refund.hospital_id,
            amount_fen=refund.amount_fen,
            now=now,
        )
    _ledger(
        db.session.get(Order, refund.order_id),  # type: ignore[arg-type]
        LedgerKind.REFUND_SUCCEEDED,
        now=now,
        amount_fen=refund.amount_fen,
        payment=payment,
        refund=refund,
        dedupe_key=f"refund-succeeded:{refund.id}",
    )


def retry_pending_refunds(now: datetime) -> int:
    """Submit refunds a provider could not take earlier; return how many went through."""
    pending = db.session.scalars(
        sa.select(Refund)
        .where(Refund.status == RefundStatus.PENDING)
        .order_by(Refund.id)
        .limit(100)
        .with_for_update(skip_locked=True)
    ).all()
    for refund in pending:
        submit_refund(refund, now=now)
    return sum(1 for r in pending if r.status == RefundStatus.SUCCEEDED)


def _tell_patient(
    order: Order, template: str, amount_fen: int, reason: str, *, now: datetime
) -> None:
    from hospital.notifications.service import notify_patient

    patient = db.session.get(Patient, order.patient_id)
    hospital = db.session.get(Hospital, order.hospital_id)
    if patient is None or hospital is None:
        return
    notify_patient(
        patient,
        template,
        {
            "hospital": hospital.name_zh,
            "amount": f"¥{fen_to_yuan(amount_fen)}",
            "order": order.receipt_no or str(order.id),
            "reason": reason,
        },
        now=now,
        dedupe_key=f"billing:{template}:{order.id}:{amount_fen}:{order.refunded_fen}",
        family_permission=Permission.PAY,
    )


# ---- reactions to scheduling ---------------------------------------------------------------


def _on_appointment_held(_sender: Any, **kw: Any) -> None:
    create_registration_order(
        hospital_id=kw["hospital_id"],
        patient_id=kw["patient_id"],
        appointment_id=kw["appointment_id"],
        fee_fen=int(kw.get("fee_fen") or 0),
        fee_class=str(kw.get("fee_class") or ""),
        expires_at=kw.get("expires_at"),
        account_id=kw.get("account_id"),
        now=kw["now"],
    )


def _on_appointment_cancelled(_sender: Any, **kw: Any) -> None:
    cancel_registration_order(
        hospital_id=kw["hospital_id"],
        appointment_id=kw["appointment_id"],
        reason=str(kw["reason"]),
        refund=str(kw.get("refund") or "policy"),
        now=kw["now"],
    )


def cancel_registration_order(
    *, hospital_id: int, appointment_id: int, reason: str, refund: str, now: datetime
) -> Order | None:
    """Void an unpaid registration order, or refund a paid one as the cancellation says."""
    return _cancel_order(
        hospital_id, f"appointment:{appointment_id}", reason=reason, refund=refund, now=now
    )


def cancel_walk_in_order(
    *, hospital_id: int, walk_in_key: str | int, reason: str, now: datetime
) -> Order | None:
    """Void a walk-in's unpaid order (reason "expired" or "cancelled"); a paid one is kept."""
    return _cancel_order(
        hospital_id, walk_in_reference(walk_in_key), reason=reason, refund="none", now=now
    )


def _cancel_order(
    hospital_id: int, reference: str, *, reason: str, refund: str, now: datetime
) -> Order | None:
    order = db.session.scalar(
        sa.select(Order).where(Order.hospital_id == hospital_id, Order.reference == reference)
    )
    if order is None:
        return None
    order = _locked_order(order.id)
    if order.status == OrderStatus.PENDING:
        order.status = OrderStatus.EXPIRED if reason == "expired" else OrderStatus.CANCELLED
        db.session.flush()
        kind = LedgerKind.ORDER_EXPIRED if reason == "expired" else LedgerKind.ORDER_CANCELLED
        _ledger(order, kind, now=now, detail={"reason": reason})
        return order
    if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) or refund == "none":
        return order
    already = db.session.scalar(
        sa.select(Refund.id).where(
            Refund.order_id == order.id,
            Refund.kind.in_([RefundKind.POLICY, RefundKind.HOSPITAL_CANCELLED]),
        )
    )
    if already is not None:
        return order
    hospital_cancelled = reason == "hospital_cancelled"
    if hospital_cancelled or refund == "full":
        amount = order.refundable_fen
    else:
        percent = int(_config("LATE_CANCEL_REFUND_PERCENT", 50))
        amount = min(policy_refund_fen(order.paid_fen, percent), order.refundable_fen)
    if amount <= 0:
        return order
    kind = RefundKind.HOSPITAL_CANCELLED if hospital_cancelled else RefundKind.POLICY
    _refund(order, None, amount, kind=kind, reason="", now=now)
    _tell_patient(order, "billing.refunded", amount, str(_REFUND_REASONS[kind]), now=now)
    return order


appointment_held.connect(_on_appointment_held)
appointment_cancelled.connect(_on_appointment_cancelled)


# ---- reading ------------------------------------------------------------------------------


def fee_schedule(hospital_id: int) -> tuple[list[RegistrationFee], list[FeeItem]]:
    fees = db.session.scalars(
        sa.select(RegistrationFee)
        .where(RegistrationFee.hospital_id == hospital_id, RegistrationFee.is_active.is_(True))
        .order_by(RegistrationFee.amount_fen)
    ).all()
    items = db.session.scalars(
        sa.select(FeeItem)
        .where(FeeItem.hospital_id == hospital_id, FeeItem.is_active.is_(True))
        .order_by(FeeItem.category, FeeItem.code)
    ).all()
    return list(fees), list(items)


def order_for_viewer(actor: Account, order_id: int) -> Order:
    return _order_for(actor, order_id, Permission.VIEW)


def order_for_payer(actor: Account, order_id: int) -> Order:
    return _order_for(actor, order_id, Permission.PAY)


def orders_for_account(actor: Account) -> list[Order]:
    """Orders of the account's own profile and of every family member it acts for."""
    patient_ids = [p.id for p in patients_acting_for(actor, Permission.VIEW)]
    if not patient_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(Order.patient_id.in_(patient_ids), Order.hospital_id == actor.hospital_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(200)
        )
    )


def _local_day_bounds(hospital: Hospital, day: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(hospital.timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, start + timedelta(days=1)


def orders_for_cashier(actor: Account, day: date) -> list[Order]:
    if not actor.has_role(*CASHIER_ROLES):
        raise Forbidden(_l("Only cashiers can see this."), code="role_required")
    hospital = db.session.get(Hospital, actor.hospital_id)
    assert hospital is not None
    start, end = _local_day_bounds(hospital, day)
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(
                Order.hospital_id == hospital.id,
                Order.created_at >= start,
                Order.created_at < end,
            )
            .order_by(Order.id.desc())
            .limit(500)
        )
    )


@dataclass(frozen=True)
class ReconciliationLine:
    at: datetime
    kind: str  # "payment" or "refund"
    provider: str
    order_id: int
    receipt_no: str
    provider_txn_id: str
    amount_fen: int


@dataclass(frozen=True)
class ReconciliationReport:
    day: date
    lines: list[ReconciliationLine]
    received_fen: dict[str, int]
    refunded_fen: dict[str, int]

    @property
    def net_fen(self) -> int:
        return sum(self.received_fen.values()) - sum(self.refunded_fen.values())


def daily_reconciliation(actor: Account, day: date) -> ReconciliationReport:
    """Money received and refunded on one local day, per provider, from the ledger."""
    if not actor.has_role(*CASHIER_ROLES):
        raise Forbidden(_l("Only cashiers can see this."), code="role_required")
    hospital = db.session.get(Hospital, actor.hospital_id)
    assert hospital is not None
    start, end = _local_day_bounds(hospital, day)
    rows = db.session.execute(
        sa.select(LedgerEntry, Payment, Order)
        .join(Payment, Payment.id == LedgerEntry.payment_id)
        .join(Order, Order.id == LedgerEntry.order_id)
        .where(
            LedgerEntry.hospital_id == hospital.id,
            LedgerEntry.at >= start,
            LedgerEntry.at < end,
            LedgerEntry.kind.in_([LedgerKind.PAYMENT_SUCCEEDED, LedgerKind.REFUND_SUCCEEDED]),
        )
        .order_by(LedgerEntry.at, LedgerEntry.id)
    ).all()
    lines: list[ReconciliationLine] = []
    received: dict[str, int] = {}
    refunded: dict[str, int] = {}
    for entry, payment, order in rows:
        is_payment = entry.kind == LedgerKind.PAYMENT_SUCCEEDED
        bucket = received if is_payment else refunded
        bucket[payment.provider] = bucket.get(payment.provider, 0) + entry.amount_fen
        lines.append(
            ReconciliationLine(
                at=entry.at,
                kind="payment" if is_payment else "refund",
                provider=payment.provider,
                order_id=order.id,
                receipt_no=order.receipt_no or "",
                provider_txn_id=payment.provider_txn_id or "",
                amount_fen=entry.amount_fen,
            )
        )
    return ReconciliationReport(day, lines, received, refunded)


def receipt_by_token(token: str) -> Order | None:
    """The paid order a receipt's QR code points at (public: shows number, amount and date only)."""
    if not token or len(token) > 43:
        return None
    order = db.session.scalar(sa.select(Order).where(Order.verification_token == token))
    if order is None or order.paid_at is None:
        return None
    return order
