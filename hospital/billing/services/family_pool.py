"""家庭共济 and paying with the insurance code.

The owner of a personal insurance account lets it pay a family member's self-pay part, within a
limit per payment and per calendar month, and may revoke that at any time. Paying with the code
settles the fund's share, then the patient's own account, then (if asked) the family member's,
and leaves the rest, if any, to the payment provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.billing.models import (
    AccountCharge,
    AccountSource,
    ChargeStatus,
    FamilyPoolGrant,
    LedgerKind,
    Order,
    OrderStatus,
)
from hospital.billing.providers.insurance import InsufficientBalance
from hospital.billing.providers.registry import insurance_adapter
from hospital.billing.services import accounts, insured, orders
from hospital.billing.services.ledger import _ledger, _locked_order, _order_for
from hospital.billing.services.payments import _mark_paid
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.money import format_fen
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission, patients_acting_for, require_patient_access
from hospital.patients.identity import mask_name
from hospital.patients.models import FamilyLink, Patient, Relationship
from hospital.zones import zone_for

NO_GRANT = _l("There is no such family account sharing (家庭共济) for you to use or change.")
OWNER_INACTIVE = _l(
    "The family member who shares their insurance account with this patient (家庭共济) has "
    "turned their medical-insurance code off, so their account cannot pay now. Pay the rest "
    "another way, or ask them to activate their code again."
)


@dataclass(frozen=True)
class GrantView:
    grant: FamilyPoolGrant
    owner: Patient
    beneficiary: Patient
    used_this_month_fen: int

    @property
    def owner_masked_name(self) -> str:
        return mask_name(self.owner.name)

    @property
    def beneficiary_masked_name(self) -> str:
        return mask_name(self.beneficiary.name)

    @property
    def revoked(self) -> bool:
        return self.grant.revoked_at is not None


def month_of(hospital_id: int, *, now: datetime) -> str:
    hospital = db.session.get_one(Hospital, hospital_id)
    return now.astimezone(zone_for(hospital)).strftime("%Y-%m")


def used_in_month(grant_id: int, month: str) -> int:
    """What the grant paid in the month, less what was refunded (released charges count nothing)."""
    value = db.session.scalar(
        sa.select(
            sa.func.coalesce(sa.func.sum(AccountCharge.amount_fen - AccountCharge.refunded_fen), 0)
        ).where(
            AccountCharge.grant_id == grant_id,
            AccountCharge.month == month,
            AccountCharge.status.in_([ChargeStatus.HELD, ChargeStatus.SETTLED]),
        )
    )
    return int(value or 0)


def _own_profile(*, actor: Account) -> Patient | None:
    link = db.session.scalar(
        sa.select(FamilyLink).where(
            FamilyLink.account_id == actor.id, FamilyLink.relationship == Relationship.SELF
        )
    )
    return db.session.get(Patient, link.patient_id) if link is not None else None


def grant(
    *,
    actor: Account,
    beneficiary_patient_id: int,
    per_payment_limit_fen: int,
    monthly_limit_fen: int,
    now: datetime,
) -> FamilyPoolGrant:
    """Let the actor's own insurance account pay for a family member, within the limits."""
    if per_payment_limit_fen <= 0 or monthly_limit_fen <= 0:
        raise InvalidInput(
            _l("Give limits above zero, per payment and per month."),
            code=ErrorCode.FAMILY_POOL_LIMITS,
        )
    # A payment can never take more than the month allows: the lower limit is the one that holds.
    per_payment_limit_fen = min(per_payment_limit_fen, monthly_limit_fen)
    beneficiary = require_patient_access(
        actor, beneficiary_patient_id, Permission.PAY, action="family_pool.grant"
    )
    owner = _own_profile(actor=actor)
    if owner is None or owner.id == beneficiary.id:
        raise Conflict(
            _l("Only your own insurance account can be shared, with someone else you pay for."),
            code=ErrorCode.FAMILY_POOL_NOT_FOUND,
        )
    insured.require_voucher(owner.id)
    found = db.session.scalar(
        sa.select(FamilyPoolGrant)
        .where(
            FamilyPoolGrant.owner_patient_id == owner.id,
            FamilyPoolGrant.beneficiary_patient_id == beneficiary.id,
            FamilyPoolGrant.revoked_at.is_(None),
        )
        .with_for_update()
    )
    if found is None:
        found = FamilyPoolGrant(
            hospital_id=owner.hospital_id,
            owner_patient_id=owner.id,
            beneficiary_patient_id=beneficiary.id,
            per_payment_limit_fen=per_payment_limit_fen,
            monthly_limit_fen=monthly_limit_fen,
            granted_by_account_id=actor.id,
            granted_at=now,
        )
        db.session.add(found)
    else:
        found.per_payment_limit_fen = per_payment_limit_fen
        found.monthly_limit_fen = monthly_limit_fen
    db.session.flush()
    record(
        action="family_pool.granted",
        actor=actor,
        patient_id=beneficiary.id,
        hospital_id=owner.hospital_id,
        object_type="family_pool_grant",
        object_id=str(found.id),
        detail={"per_payment": per_payment_limit_fen, "monthly": monthly_limit_fen},
    )
    return found


def revoke(*, actor: Account, grant_id: int, now: datetime) -> FamilyPoolGrant:
    """The owner withdraws consent: the account pays nothing more from now on."""
    found = db.session.get(FamilyPoolGrant, grant_id) if 0 < grant_id < 2**31 else None
    owner = _own_profile(actor=actor)
    if found is None or owner is None or found.owner_patient_id != owner.id:
        record(
            action="family_pool.revoke",
            outcome="denied",
            actor=actor,
            hospital_id=actor.hospital_id,
            object_type="family_pool_grant",
            object_id=str(grant_id),
        )
        raise NotFound(NO_GRANT, code=ErrorCode.FAMILY_POOL_NOT_FOUND)
    if found.revoked_at is None:
        insured.revoke(
            found,
            "family_pool.revoked",
            patient_id=found.beneficiary_patient_id,
            actor=actor,
            now=now,
        )
    return found


def grants_given(*, actor: Account, now: datetime) -> list[GrantView]:
    """The active grants of the actor's own account."""
    owner = _own_profile(actor=actor)
    if owner is None:
        return []
    rows = db.session.scalars(
        sa.select(FamilyPoolGrant)
        .where(FamilyPoolGrant.owner_patient_id == owner.id, FamilyPoolGrant.revoked_at.is_(None))
        .order_by(FamilyPoolGrant.id)
    ).all()
    return [view(g, now=now) for g in rows]


def grants_for_patient(*, actor: Account, patient_id: int, now: datetime) -> list[GrantView]:
    """Active grants that may pay for this patient (for an actor who pays for them)."""
    patient = require_patient_access(actor, patient_id, Permission.PAY, action="family_pool.list")
    rows = db.session.scalars(
        sa.select(FamilyPoolGrant)
        .where(
            FamilyPoolGrant.beneficiary_patient_id == patient.id,
            FamilyPoolGrant.revoked_at.is_(None),
        )
        .order_by(FamilyPoolGrant.id)
    ).all()
    return [view(g, now=now) for g in rows]


def view(found: FamilyPoolGrant, *, now: datetime) -> GrantView:
    return GrantView(
        grant=found,
        owner=db.session.get_one(Patient, found.owner_patient_id),
        beneficiary=db.session.get_one(Patient, found.beneficiary_patient_id),
        used_this_month_fen=used_in_month(found.id, month_of(found.hospital_id, now=now)),
    )


def payable_people(*, actor: Account) -> list[Patient]:
    """The people whose insurance code the actor may show and pay with: self and family."""
    return patients_acting_for(actor, Permission.PAY)


def pay_with_code(
    order_id: int, *, actor: Account, family_grant_id: int | None, now: datetime
) -> Order:
    """Pay a pending order with the patient's insurance code (fund, own account, family pool).

    Repeating it while the order still waits for its cash part changes nothing. When nothing is
    left for the payment provider the order is paid at once.
    """
    order = _order_for(order_id, Permission.PAY, actor=actor)
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
    voucher = insured.require_voucher(order.patient_id)
    if accounts.charges_of(order.id):
        return order
    if not order.insurance_applied:
        orders.apply_insurance(order.id, actor=actor, now=now)
        order = _locked_order(order.id)
    adapter = insurance_adapter(current_app.config)
    month = month_of(order.hospital_id, now=now)
    own = min(adapter.balance(insured_ref=voucher.insured_ref), order.self_pay_fen)
    if own > 0:
        _charge(
            order,
            AccountSource.PERSONAL,
            order.patient_id,
            voucher.insured_ref,
            own,
            month,
            actor=actor,
            now=now,
            grant_id=None,
        )
    rest = order.self_pay_fen - own
    if family_grant_id is not None and rest > 0:
        _charge_family(order, family_grant_id, rest, month, actor=actor, now=now)
    db.session.refresh(order)
    if order.cash_fen == 0:
        _mark_paid(order, None, now=now, payer=actor)
    return order


def _charge_family(
    order: Order, grant_id: int, rest: int, month: str, *, actor: Account, now: datetime
) -> None:
    # The grant's row is locked: payments against one grant count each other in turn, so the
    # monthly limit holds however many run at once.
    found = (
        db.session.execute(
            sa.select(FamilyPoolGrant)
            .where(
                FamilyPoolGrant.id == grant_id,
                FamilyPoolGrant.beneficiary_patient_id == order.patient_id,
                FamilyPoolGrant.hospital_id == order.hospital_id,
                FamilyPoolGrant.revoked_at.is_(None),
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if 0 < grant_id < 2**31
        else None
    )
    if found is None:
        raise NotFound(NO_GRANT, code=ErrorCode.FAMILY_POOL_NOT_FOUND)
    owner_voucher = insured.active_voucher(found.owner_patient_id)
    if owner_voucher is None:
        raise Conflict(OWNER_INACTIVE, code=ErrorCode.FAMILY_POOL_OWNER_INACTIVE)
    adapter = insurance_adapter(current_app.config)
    used = used_in_month(found.id, month)
    amount = min(
        rest,
        found.per_payment_limit_fen,
        max(found.monthly_limit_fen - used, 0),
        adapter.balance(insured_ref=owner_voucher.insured_ref),
    )
    if amount <= 0:
        return
    charge = _charge(
        order,
        AccountSource.FAMILY,
        found.owner_patient_id,
        owner_voucher.insured_ref,
        amount,
        month,
        actor=actor,
        now=now,
        grant_id=found.id,
    )
    if charge is None:
        return
    accounts._tell_owner(
        charge,
        accounts.FAMILY_POOL_USED,
        order,
        amount,
        now=now,
        extra={
            "used": format_fen(used + amount),
            "limit": format_fen(found.monthly_limit_fen),
        },
        key="used",
    )


def _charge(
    order: Order,
    source: AccountSource,
    payer_patient_id: int,
    insured_ref: str,
    amount: int,
    month: str,
    *,
    actor: Account,
    now: datetime,
    grant_id: int | None,
) -> AccountCharge | None:
    try:
        txn = insurance_adapter(current_app.config).debit(
            insured_ref=insured_ref, amount_fen=amount, reference=f"order:{order.id}", now=now
        )
    except InsufficientBalance:
        return None  # spent elsewhere just now: the cash payment covers it
    charge = AccountCharge(
        hospital_id=order.hospital_id,
        order_id=order.id,
        source=source,
        payer_patient_id=payer_patient_id,
        insured_ref=insured_ref,
        grant_id=grant_id,
        amount_fen=amount,
        month=month,
        status=ChargeStatus.HELD,
        txn_id=txn,
        created_at=now,
    )
    db.session.add(charge)
    order.account_fen += amount
    db.session.flush()
    _ledger(
        order,
        LedgerKind.PAYMENT_STARTED,
        now=now,
        amount_fen=amount,
        actor=actor,
        detail={"source": f"{source.value}_account", "txn": txn},
    )
    return charge
