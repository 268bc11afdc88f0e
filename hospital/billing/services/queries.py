"""Read orders, fees, receipts and the daily reconciliation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.billing.models import AccountSource, LedgerEntry, LedgerKind, Payment, RegistrationFee
from hospital.billing.models import FeeItem as FeeItem
from hospital.billing.models import ItemCategory as ItemCategory
from hospital.billing.models import Order as Order
from hospital.billing.models import OrderStatus as OrderStatus
from hospital.billing.references import OrderKind, OrderRef
from hospital.billing.services.ledger import CASHIER_ROLES, _order_for
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission, patients_acting_for
from hospital.zones import day_bounds, zone_for

# FeeItem, ItemCategory, Order and OrderStatus are re-exported: neighbours name the types of what
# these queries take and return, and may not import billing's models.


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


def active_fee_items(hospital_id: int, categories: Iterable[ItemCategory]) -> list[FeeItem]:
    """The hospital's active fee items of these categories, by category then id."""
    return list(
        db.session.scalars(
            sa.select(FeeItem)
            .where(
                FeeItem.hospital_id == hospital_id,
                FeeItem.is_active.is_(True),
                FeeItem.category.in_(list(categories)),
            )
            .order_by(FeeItem.category, FeeItem.id)
        )
    )


def order_for_viewer(order_id: int, *, actor: Account) -> Order:
    return _order_for(order_id, Permission.VIEW, actor=actor)


def order_for_payer(order_id: int, *, actor: Account) -> Order:
    return _order_for(order_id, Permission.PAY, actor=actor)


def orders_for_account(*, actor: Account) -> list[Order]:
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


def orders_for_cashier(day: date, *, actor: Account) -> list[Order]:
    if not actor.has_role(*CASHIER_ROLES):
        raise Forbidden(_l("Only cashiers can see this."), code=ErrorCode.ROLE_REQUIRED)
    hospital = db.session.get(Hospital, actor.hospital_id)
    assert hospital is not None
    start, end = day_bounds(day, zone_for(hospital))
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


# The reconciliation's "providers" for money from insurance personal accounts.
ACCOUNT_PROVIDERS = frozenset(f"{source.value}_account" for source in AccountSource)


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


def daily_reconciliation(day: date, *, actor: Account) -> ReconciliationReport:
    """Money received and refunded on one local day, per provider, from the ledger.

    Insurance personal accounts count as providers of their own (personal_account,
    family_account), so the day adds up to what the orders were paid.
    """
    if not actor.has_role(*CASHIER_ROLES):
        raise Forbidden(_l("Only cashiers can see this."), code=ErrorCode.ROLE_REQUIRED)
    hospital = db.session.get(Hospital, actor.hospital_id)
    assert hospital is not None
    start, end = day_bounds(day, zone_for(hospital))
    rows = db.session.execute(
        sa.select(LedgerEntry, Payment, Order)
        .outerjoin(Payment, Payment.id == LedgerEntry.payment_id)
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
        if payment is not None:
            provider, txn = payment.provider, payment.provider_txn_id or ""
        elif entry.detail.get("source") in ACCOUNT_PROVIDERS:
            # An insurance personal account (own or 家庭共济) charged or credited back.
            provider, txn = str(entry.detail["source"]), str(entry.detail.get("txn") or "")
        else:
            continue
        is_payment = entry.kind == LedgerKind.PAYMENT_SUCCEEDED
        bucket = received if is_payment else refunded
        bucket[provider] = bucket.get(provider, 0) + entry.amount_fen
        lines.append(
            ReconciliationLine(
                at=entry.at,
                kind="payment" if is_payment else "refund",
                provider=provider,
                order_id=order.id,
                receipt_no=order.receipt_no or "",
                provider_txn_id=txn,
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


def order_for(hospital_id: int, ref: OrderRef) -> Order | None:
    """The hospital's order for this reference (an appointment's or a walk-in's fee), if made."""
    return db.session.scalar(
        sa.select(Order).where(Order.hospital_id == hospital_id, Order.reference == ref.format())
    )


def pending_order_for(hospital_id: int, ref: OrderRef) -> Order | None:
    """The order for this reference while it still awaits payment; None once paid or voided."""
    order = order_for(hospital_id, ref)
    return order if order is not None and order.status is OrderStatus.PENDING else None


def orders_of_visit(hospital_id: int, patient_id: int, visit: OrderRef | str) -> list[Order]:
    """The patient's orders of one visit (its registration fee and what staff ordered), oldest first.

    A visit is named by its key: an appointment's or a ticket's reference, or the text staff gave.
    """
    key = visit.format() if isinstance(visit, OrderRef) else visit
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(
                Order.hospital_id == hospital_id,
                Order.patient_id == patient_id,
                Order.visit_key == key,
            )
            .order_by(Order.created_at, Order.id)
        )
    )


def order_id_named(hospital_id: int, patient_id: int, name: str) -> int | None:
    """The id of the patient's order a lab's order number names: its reference, or "order:<id>"."""
    if not name:
        return None
    named = Order.reference == name
    ref = OrderRef.read(name)
    if ref is not None and ref.kind is OrderKind.ORDER:
        named = sa.or_(named, Order.id == ref.id)
    return db.session.scalar(
        sa.select(Order.id).where(
            Order.hospital_id == hospital_id, Order.patient_id == patient_id, named
        )
    )


def phone_payment_provider(config: Mapping[str, Any]) -> str:
    """The provider a payment finished on the patient's phone goes through: the first enabled."""
    from hospital.billing.providers.registry import enabled_provider_names

    return (enabled_provider_names(config) or ["sandbox"])[0]


def orders_of_patient_between(
    hospital_id: int, patient_id: int, start: datetime, end: datetime
) -> list[Order]:
    """The patient's orders created in [start, end), oldest first (a visit's day)."""
    return list(
        db.session.scalars(
            sa.select(Order)
            .where(
                Order.hospital_id == hospital_id,
                Order.patient_id == patient_id,
                Order.created_at >= start,
                Order.created_at < end,
            )
            .order_by(Order.created_at, Order.id)
        )
    )
