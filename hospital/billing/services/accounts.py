"""Personal insurance accounts paying an order's self-pay part: settle, release, refund back.

A charge is debited at the insurer when the payment is planned (held), settled when the order is
paid, credited back in full when the order lapses unpaid, and in part by a refund, in proportion
with the cash payment.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.billing.models import (
    AccountCharge,
    AccountSource,
    ChargeStatus,
    LedgerKind,
    Order,
    Payment,
    PaymentSource,
    Refund,
    RefundKind,
    RefundStatus,
)
from hospital.billing.pricing import split_refund
from hospital.billing.providers.registry import insurance_adapter
from hospital.billing.services.ledger import _ledger
from hospital.db import db, execute_dml
from hospital.events import refund_issued
from hospital.money import format_fen
from hospital.notifications.messages import MessageTemplate
from hospital.organisation.models import Hospital
from hospital.patients.models import Patient

FAMILY_POOL_USED = "billing.family_pool_used"
FAMILY_POOL_REFUNDED = "billing.family_pool_refunded"
MESSAGE_TEMPLATES = {
    FAMILY_POOL_USED: MessageTemplate(
        subject=_l("Your insurance account paid {amount} for {patient}"),
        body=_l(
            "{hospital}: {amount} from your personal medical-insurance account pays for "
            "{patient} (家庭共济). Used this month: {used} of {limit}. Not agreed? Revoke it in "
            "the app."
        ),
    ),
    FAMILY_POOL_REFUNDED: MessageTemplate(
        subject=_l("{amount} back to your insurance account"),
        body=_l(
            "{hospital}: {amount} paid from your personal medical-insurance account for "
            "{patient} was refunded to it."
        ),
    ),
}


def charges_of(order_id: int) -> list[AccountCharge]:
    return list(
        db.session.scalars(
            sa.select(AccountCharge)
            .where(AccountCharge.order_id == order_id)
            .order_by(AccountCharge.id)
        ).all()
    )


def settle_charges(order: Order, *, now: datetime) -> None:
    """The order is paid: its held charges are settled (and written to the ledger once)."""
    for charge in charges_of(order.id):
        if charge.status is not ChargeStatus.HELD:
            continue
        charge.status = ChargeStatus.SETTLED
        charge.settled_at = now
        _ledger(
            order,
            LedgerKind.PAYMENT_SUCCEEDED,
            now=now,
            amount_fen=charge.amount_fen,
            dedupe_key=f"account-charge-settled:{charge.id}",
            detail={"source": f"{charge.source.value}_account", "txn": charge.txn_id},
        )
    db.session.flush()


def release_charges(order: Order, *, now: datetime) -> None:
    """The order lapsed or was cancelled unpaid: credit every held charge back in full."""
    adapter = insurance_adapter(current_app.config)
    for charge in charges_of(order.id):
        if charge.status is not ChargeStatus.HELD:
            continue
        adapter.credit(
            insured_ref=charge.insured_ref,
            amount_fen=charge.amount_fen,
            reference=f"release:{charge.id}",
            now=now,
        )
        charge.status = ChargeStatus.RELEASED
        _ledger(
            order,
            LedgerKind.PAYMENT_FAILED,
            now=now,
            amount_fen=charge.amount_fen,
            dedupe_key=f"account-charge-released:{charge.id}",
            detail={"source": f"{charge.source.value}_account", "released": True},
        )
    db.session.flush()


def refund_self_part(
    order: Order,
    self_part: int,
    *,
    actor: Account | None,
    now: datetime,
    kind: RefundKind,
    reason: str,
    idempotency_key: str | None = None,
) -> tuple[int, list[Refund]]:
    """Return self_part over the cash payment and the settled charges in proportion.

    Credits the accounts' shares at once, each recorded as a succeeded Refund of its charge,
    and answers the share left for the cash payment with those refunds.
    """
    charges = [c for c in charges_of(order.id) if c.status is ChargeStatus.SETTLED]
    if not charges:
        return self_part, []
    cash = db.session.scalar(
        sa.select(Payment).where(
            Payment.order_id == order.id,
            Payment.source == PaymentSource.SELF_PAY,
            Payment.settles_order.is_(True),
        )
    )
    remaining = {"cash": cash.amount_fen - cash.refunded_fen if cash is not None else 0}
    for charge in charges:
        remaining[f"charge:{charge.id}"] = charge.amount_fen - charge.refunded_fen
    parts = split_refund(self_part, remaining)
    adapter = insurance_adapter(current_app.config)
    credited = 0
    issued: list[Refund] = []
    for charge in charges:
        part = parts.get(f"charge:{charge.id}", 0)
        if part <= 0:
            continue
        taken = execute_dml(
            sa.update(AccountCharge)
            .where(
                AccountCharge.id == charge.id,
                AccountCharge.refunded_fen + part <= AccountCharge.amount_fen,
            )
            .values(refunded_fen=AccountCharge.refunded_fen + part)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not taken:
            raise RuntimeError(f"charge {charge.id} cannot take a refund of {part}")
        db.session.refresh(charge)
        txn = adapter.credit(
            insured_ref=charge.insured_ref,
            amount_fen=part,
            reference=f"refund:{charge.id}:{charge.refunded_fen}",
            now=now,
        )
        credited += part
        source = f"{charge.source.value}_account"
        refund = Refund(
            hospital_id=order.hospital_id,
            order_id=order.id,
            account_charge_id=charge.id,
            refund_no="RF" + secrets.token_hex(12),
            amount_fen=part,
            kind=kind,
            reason=reason,
            status=RefundStatus.SUCCEEDED,
            provider_refund_id=txn[:64] if txn else None,
            requested_by_account_id=actor.id if actor is not None else None,
            idempotency_key=f"{idempotency_key}#{source}" if idempotency_key else None,
            attempts=1,
            created_at=now,
            completed_at=now,
        )
        db.session.add(refund)
        db.session.flush()
        issued.append(refund)
        _ledger(
            order,
            LedgerKind.REFUND_SUCCEEDED,
            now=now,
            amount_fen=part,
            refund=refund,
            actor=actor,
            detail={"source": source, "txn": txn},
        )
        if charge.source is AccountSource.FAMILY:
            _tell_owner(
                charge, FAMILY_POOL_REFUNDED, order, part, now=now, extra={}, key="refunded"
            )
    if credited:
        refund_issued.send(
            "billing",
            order_id=order.id,
            hospital_id=order.hospital_id,
            amount_fen=credited,
            reference=order.reference or "",
            fully_refunded=order.refunded_fen >= order.paid_fen,
            now=now,
        )
    db.session.flush()
    return parts.get("cash", 0), issued


def _tell_owner(
    charge: AccountCharge,
    template: str,
    order: Order,
    amount_fen: int,
    *,
    now: datetime,
    extra: dict[str, str],
    key: str,
) -> None:
    """Tell the balance owner (their own phone) what their account paid or got back."""
    from hospital.notifications.service import notify_patient
    from hospital.patients.identity import mask_name

    owner = db.session.get(Patient, charge.payer_patient_id)
    patient = db.session.get(Patient, order.patient_id)
    hospital = db.session.get(Hospital, order.hospital_id)
    if owner is None or patient is None or hospital is None:
        return
    notify_patient(
        owner,
        template,
        {
            "hospital": hospital.name_zh,
            "amount": format_fen(amount_fen),
            "patient": mask_name(patient.name),
            **extra,
        },
        now=now,
        dedupe_key=f"billing:family-pool:{key}:{charge.id}:{charge.refunded_fen}",
    )
