"""REST endpoints for fees, orders, payments and refunds (/api/v1/billing)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint

from hospital.accounts.guards import public, require_roles, require_signed_in, signed_in_account
from hospital.accounts.models import Account, Role
from hospital.audit.service import record_staff_read
from hospital.billing import receipts
from hospital.billing.models import InsuranceVoucher, Order, Refund, RefundKind
from hospital.billing.providers.insurance import ShownCode
from hospital.billing.schemas import (
    BillingDayArgs,
    FamilyPoolGrantArgs,
    FamilyPoolGrantOut,
    FeeScheduleOut,
    InsuranceActivationArgs,
    InsuranceCodePaymentArgs,
    InsuranceConsentSentOut,
    InsuranceVoucherOut,
    InsuredPersonOut,
    OrderOut,
    PaymentArgs,
    ReceiptSizeArgs,
    ReconciliationOut,
    RefundArgs,
    RefundOut,
    ShownCodeOut,
    StartedPaymentOut,
    VisitOrderArgs,
)
from hospital.billing.services import family_pool, insured, orders, payments, queries, refunds
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict
from hospital.idempotency import HEADER, idempotent
from hospital.organisation.lookup import current_hospital
from hospital.patients.identity import mask_name
from hospital.web.api_docs import file_response

blp = Blueprint(
    __name__.split(".")[1],
    __name__,
    description="Fees, orders, online payment, refunds and receipts.",
)


def idempotency_key() -> str | None:
    """The request's Idempotency-Key, shortened to a hash when longer than the column."""
    key = request.headers.get(HEADER)
    if key is None or len(key) <= 64:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:57]


def _audit_staff_read(account: Account, action: str, orders: list[Order]) -> None:
    record_staff_read(
        actor=account,
        action=action,
        object_type="order",
        reads=[(o.id, o.patient_id) for o in orders],
    )


@blp.route("/fees", methods=["GET"])
@public("the hospital's published prices")
@blp.response(200, FeeScheduleOut)
def fee_schedule() -> dict[str, Any]:
    """The hospital's fee schedule: registration fees by fee class and priced items."""
    fees, items = queries.fee_schedule(current_hospital().id)
    return {"registration_fees": fees, "items": items}


@blp.route("/orders", methods=["GET"])
@require_signed_in
@blp.response(200, OrderOut(many=True))
def my_orders() -> list[Order]:
    """Your orders and those of the family members you act for."""
    return queries.orders_for_account(actor=signed_in_account())


@blp.route("/orders", methods=["POST"])
@require_roles(Role.CLINICIAN, Role.CASHIER, Role.ADMIN)
@blp.arguments(VisitOrderArgs)
@blp.response(201, OrderOut)
def create_visit_order(args: dict[str, Any]) -> Order:
    """Order tests, imaging, medicines or procedures for a patient during a visit."""
    items = [orders.ItemRequest(i["fee_item_id"], i["quantity"]) for i in args["items"]]
    return orders.create_visit_order(
        actor=signed_in_account(),
        patient_id=args["patient_id"],
        items=items,
        visit_key=args["visit_key"],
        now=utcnow(),
    )


@blp.route("/orders/<int:order_id>", methods=["GET"])
@require_signed_in
@blp.response(200, OrderOut)
def get_order(order_id: int) -> Order:
    """One order, if it is yours, a family member's, or you are staff with access (audited)."""
    account = signed_in_account()
    order = queries.order_for_viewer(order_id, actor=account)
    _audit_staff_read(account, "order.read", [order])
    return order


@blp.route("/orders/<int:order_id>/insurance", methods=["POST"])
@require_signed_in
@blp.response(200, OrderOut)
def use_insurance(order_id: int) -> Order:
    """Settle the covered share with medical insurance; the patient then pays the rest."""
    return orders.apply_insurance(order_id, actor=signed_in_account(), now=utcnow())


@blp.route("/orders/<int:order_id>/payments", methods=["POST"])
@require_signed_in
@idempotent
@blp.arguments(PaymentArgs)
@blp.response(201, StartedPaymentOut)
def start_payment(args: dict[str, Any], order_id: int) -> payments.StartedPayment:
    """Open a payment and get the provider address to redirect the payer to.

    The order is paid only when the provider's signed notification (or our query) confirms it.
    """
    return payments.start_payment(
        order_id,
        actor=signed_in_account(),
        provider_name=args["provider"],
        now=utcnow(),
        idempotency_key=idempotency_key(),
    )


@blp.route("/orders/<int:order_id>/refunds", methods=["POST"])
@require_roles(Role.CASHIER, Role.ADMIN)
@idempotent
@blp.arguments(RefundArgs)
@blp.response(201, RefundOut(many=True))
def refund(args: dict[str, Any], order_id: int) -> list[Refund]:
    """Cashier: refund part of an order (amount_fen) or all that is left, with a reason."""
    return refunds.refund_order(
        order_id,
        actor=signed_in_account(),
        amount_fen=args.get("amount_fen"),
        kind=RefundKind.CASHIER,
        reason=args["reason"],
        now=utcnow(),
        idempotency_key=idempotency_key(),
    )


@blp.route("/orders/<int:order_id>/receipt", methods=["GET"])
@require_signed_in
@blp.arguments(ReceiptSizeArgs, location="query")
@blp.doc(**file_response("The receipt.", "application/pdf"))
def receipt(args: dict[str, Any], order_id: int) -> Response:
    """The receipt PDF of a paid order (A4, or 80mm for a receipt printer)."""
    account = signed_in_account()
    order = queries.order_for_viewer(order_id, actor=account)
    if order.paid_at is None:
        raise Conflict(
            _l("This order has not been paid, so it has no receipt."), code=ErrorCode.NOT_PAID
        )
    _audit_staff_read(account, "order.receipt.read", [order])
    pdf = receipts.receipt_pdf(order, size=args["size"])
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{order.receipt_no}.pdf"'},
    )


@blp.route("/cashier/orders", methods=["GET"])
@require_roles(Role.CASHIER, Role.ADMIN)
@blp.arguments(BillingDayArgs, location="query")
@blp.response(200, OrderOut(many=True))
def cashier_orders(args: dict[str, Any]) -> list[Order]:
    """Cashier: the orders created on one day (the hospital's local date); audited."""
    account = signed_in_account()
    orders = queries.orders_for_cashier(args["date"], actor=account)
    _audit_staff_read(account, "order.cashier_list.read", orders)
    return orders


@blp.route("/reconciliation", methods=["GET"])
@require_roles(Role.CASHIER, Role.ADMIN)
@blp.arguments(BillingDayArgs, location="query")
@blp.response(200, ReconciliationOut)
def reconciliation(args: dict[str, Any]) -> queries.ReconciliationReport:
    """Cashier: money received and refunded on one day, per provider."""
    return queries.daily_reconciliation(args["date"], actor=signed_in_account())


@blp.route("/orders/<int:order_id>/insurance-code-payment", methods=["POST"])
@require_signed_in
@blp.arguments(InsuranceCodePaymentArgs)
@blp.response(200, OrderOut)
def pay_with_insurance_code(args: dict[str, Any], order_id: int) -> Order:
    """Pay with the patient's medical-insurance code (fund, own account, family account).

    The fund pays its share, then the patient's own personal account, then (with
    family_grant_id) a family member's account within the grant's limits (家庭共济). Whatever is left (cash_fen) is paid with a provider (POST payments); when nothing is left the
    order is paid at once. Repeating it while the cash part is due changes nothing. 409
    insurance_not_activated: the patient's own code is off; 409 family_pool_owner_inactive: the
    family member whose account the grant shares has turned their code off.
    """
    return family_pool.pay_with_code(
        order_id,
        actor=signed_in_account(),
        family_grant_id=args.get("family_grant_id"),
        now=utcnow(),
    )


@blp.route("/insurance/people", methods=["GET"])
@require_signed_in
@blp.response(200, InsuredPersonOut(many=True))
def insured_people() -> list[dict[str, Any]]:
    """Whose medical-insurance code you may show and use: yourself and those you pay for."""
    people = []
    for patient in family_pool.payable_people(actor=signed_in_account()):
        voucher = insured.active_voucher(patient.id)
        people.append(
            {
                "patient_id": patient.id,
                "masked_name": mask_name(patient.name),
                "activated": voucher is not None,
                "consent": voucher.consent.value if voucher is not None else None,
                "balance_fen": insured.balance_of(patient.id),
            }
        )
    return people


@blp.route("/insurance/people/<int:patient_id>/consent-code", methods=["POST"])
@require_signed_in
@blp.response(202, InsuranceConsentSentOut)
def insurance_consent_code(patient_id: int) -> dict[str, int]:
    """Text the insured person a code: giving it to you is their consent to activation."""
    wait = insured.send_consent_code(actor=signed_in_account(), patient_id=patient_id, now=utcnow())
    return {"retry_after": wait}


@blp.route("/insurance/people/<int:patient_id>/activation", methods=["POST"])
@require_signed_in
@blp.arguments(InsuranceActivationArgs)
@blp.response(200, InsuranceVoucherOut)
def activate_insurance(args: dict[str, Any], patient_id: int) -> InsuranceVoucher:
    """Activate the person's medical-insurance code (医保电子凭证).

    Yourself: no code. A family member you may pay for: the code sent to their phone (409
    consent_required without it, consent_at_desk when they have no phone). Desk staff: no code.
    """
    return insured.activate(
        actor=signed_in_account(),
        patient_id=patient_id,
        consent_code=args.get("consent_code"),
        now=utcnow(),
    )


@blp.route("/insurance/people/<int:patient_id>/activation", methods=["DELETE"])
@require_signed_in
@blp.response(204)
def deactivate_insurance(patient_id: int) -> None:
    """Turn the person's medical-insurance code off here."""
    insured.deactivate(actor=signed_in_account(), patient_id=patient_id, now=utcnow())


@blp.route("/insurance/people/<int:patient_id>/code", methods=["POST"])
@require_signed_in
@blp.response(201, ShownCodeOut)
def show_insurance_code(patient_id: int) -> ShownCode:
    """A fresh code to show at registration and payment (valid ten minutes)."""
    return insured.show_code(actor=signed_in_account(), patient_id=patient_id, now=utcnow())


@blp.route("/insurance/family-pool", methods=["GET"])
@require_signed_in
@blp.response(200, FamilyPoolGrantOut(many=True))
def family_pool_grants() -> list[family_pool.GrantView]:
    """家庭共济: whom your own insurance account pays for, with this month's use."""
    return family_pool.grants_given(actor=signed_in_account(), now=utcnow())


@blp.route("/insurance/family-pool", methods=["POST"])
@require_signed_in
@blp.arguments(FamilyPoolGrantArgs)
@blp.response(201, FamilyPoolGrantOut)
def grant_family_pool(args: dict[str, Any]) -> family_pool.GrantView:
    """Let your own insurance account pay a family member's self-pay part, within limits.

    Granting again for the same person changes the limits. You are told each time it pays.
    """
    now = utcnow()
    found = family_pool.grant(
        actor=signed_in_account(),
        beneficiary_patient_id=args["beneficiary_patient_id"],
        per_payment_limit_fen=args["per_payment_limit_fen"],
        monthly_limit_fen=args["monthly_limit_fen"],
        now=now,
    )
    return family_pool.view(found, now=now)


@blp.route("/insurance/family-pool/<int:grant_id>", methods=["DELETE"])
@require_signed_in
@blp.response(200, FamilyPoolGrantOut)
def revoke_family_pool(grant_id: int) -> family_pool.GrantView:
    """Withdraw your consent: your account pays nothing more for this person."""
    now = utcnow()
    found = family_pool.revoke(actor=signed_in_account(), grant_id=grant_id, now=now)
    return family_pool.view(found, now=now)
