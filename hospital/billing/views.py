"""Billing pages: pay, result, my orders and receipts, the sandbox checkout, the cashier console."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import current_account, public, signed_in_account, token_access
from hospital.accounts.models import Account, Role
from hospital.audit.service import record_staff_read
from hospital.billing import receipts, wiring
from hospital.billing.exports import csv_text
from hospital.billing.models import Order, OrderStatus, RefundKind
from hospital.billing.pricing import fen_to_yuan, yuan_to_fen
from hospital.billing.providers.registry import (
    UnknownProvider,
    enabled_provider_names,
    payment_provider,
)
from hospital.billing.providers.sandbox import SandboxProvider
from hospital.billing.receipts import REFUND_SOURCE_LABELS
from hospital.billing.references import OrderKind, OrderRef
from hospital.billing.services import (
    accounts,
    family_pool,
    insured,
    orders,
    payments,
    queries,
    refunds,
    settlement,
)
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, Forbidden, InvalidInput, NotFound
from hospital.extensions import csrf
from hospital.money import format_fen
from hospital.organisation.models import Hospital
from hospital.patients.models import Patient
from hospital.pdf import render_pdf
from hospital.visits.services import refuse_visit_here, visit_at_staff_station
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from hospital.zones import local_date, zone_for

bp = Blueprint("billing_pages", __name__, template_folder="templates", url_prefix="/billing")

Page = str | tuple[str, int] | WerkzeugResponse

STATUS_LABELS = {
    OrderStatus.PENDING: _l("Waiting for payment"),
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.PARTIALLY_REFUNDED: _l("Partly refunded"),
    OrderStatus.REFUNDED: _l("Refunded"),
    OrderStatus.EXPIRED: _l("Lapsed"),
    OrderStatus.CANCELLED: _l("Cancelled"),
}
PROVIDER_LABELS = {
    "sandbox": _l("Sandbox (test payments)"),
    "alipay": _l("Alipay"),
    "personal_account": REFUND_SOURCE_LABELS["personal_account"],
    "family_account": REFUND_SOURCE_LABELS["family_account"],
}

add_home_tile(
    Tile(
        "billing_pages.my_orders",
        _l("My orders and receipts"),
        _l("Pay fees for you and your family, and get receipts"),
        order=30,
    )
)


def _patients_of(orders: list[Order]) -> dict[int, Patient]:
    ids = {o.patient_id for o in orders}
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(sa.select(Patient).where(Patient.id.in_(ids)))}


def _audit_staff_read(account: Account, action: str, orders: list[Order]) -> None:
    record_staff_read(
        actor=account,
        action=action,
        object_type="order",
        reads=[(o.id, o.patient_id) for o in orders],
    )


def _hospital_zone(order: Order) -> ZoneInfo:
    hospital = db.session.get(Hospital, order.hospital_id)
    assert hospital is not None, "an order names an existing hospital"
    return zone_for(hospital)


def _page_context() -> dict[str, object]:
    return {
        "status_labels": STATUS_LABELS,
        "provider_labels": PROVIDER_LABELS,
        "zone_of": _hospital_zone,
    }


@bp.get("/orders")
@sign_in_page_required
def my_orders() -> Page:
    account = signed_in_account()
    orders = queries.orders_for_account(actor=account)
    patients = _patients_of(orders)
    return render_template(
        "billing/orders.html", orders=orders, patients=patients, **_page_context()
    )


@bp.route("/orders/<int:order_id>/pay", methods=["GET", "POST"])
@sign_in_page_required
def pay(order_id: int) -> Page:
    account = signed_in_account()
    now = utcnow()
    error = None
    if request.method == "POST":
        try:
            if request.form.get("action") == "insurance_code":
                raw_grant = request.form.get("family_grant", "")
                family_pool.pay_with_code(
                    order_id,
                    actor=account,
                    family_grant_id=int(raw_grant)
                    if raw_grant.isdigit() and len(raw_grant) < 10
                    else None,
                    now=now,
                )
                flash(_("Paid with the medical-insurance code as far as it goes."), "success")
                return redirect(url_for("billing_pages.pay", order_id=order_id))
            if request.form.get("action") == "insurance":
                orders.apply_insurance(order_id, actor=account, now=now)
                flash(
                    _("Medical insurance was applied. You pay only the self-pay part."), "success"
                )
                return redirect(url_for("billing_pages.pay", order_id=order_id))
            started = payments.start_payment(
                order_id,
                actor=account,
                provider_name=request.form.get("provider", ""),
                now=now,
            )
        except DomainError as exc:
            if exc.status == 404:
                raise
            error = exc.message
        else:
            # A full redirect to the provider: card data is never typed into our pages.
            return redirect(started.redirect_url)
    order = queries.order_for_payer(order_id, actor=account)
    _audit_staff_read(account, "order.read", [order])
    seconds_left = (
        max(int((order.expires_at - now).total_seconds()), 0) if order.expires_at else None
    )
    can_use_code = order.status is OrderStatus.PENDING and not accounts.charges_of(order.id)
    page = render_template(
        "billing/pay.html",
        order=order,
        patient=db.session.get(Patient, order.patient_id),
        insured_code=can_use_code and insured.active_voucher(order.patient_id) is not None,
        family_grants=family_pool.grants_for_patient(
            actor=account, patient_id=order.patient_id, now=now
        )
        if can_use_code
        else [],
        charges=accounts.charges_of(order.id),
        providers=enabled_provider_names(_config()),
        seconds_left=seconds_left,
        error=error,
        **_page_context(),
    )
    return (page, 409) if error else page


def _config() -> dict[str, object]:
    from flask import current_app

    return current_app.config


@bp.get("/orders/<int:order_id>/result")
@public("anonymous visitors see nothing about the order; accounts only orders they may view")
def result(order_id: int) -> Page:
    if current_account() is None:
        # Someone who paid by scanning a kiosk's QR is not signed in on this phone: tell them
        # where their number is, and nothing about the order (its id is in the address).
        return render_template("billing/result_public.html", order_id=order_id, **_page_context())
    # Shows what our database knows: returning here never marks anything paid.
    account = signed_in_account()
    order = queries.order_for_viewer(order_id, actor=account)
    _audit_staff_read(account, "order.read", [order])
    return render_template(
        "billing/result.html",
        order=order,
        next_step=_next_step(order) if order.paid_at else None,
        **_page_context(),
    )


# What a paid order's result page says on the way to the page of what was paid for.
NEXT_STEP_MESSAGES = {
    OrderKind.APPOINTMENT: _l("Your appointment is booked. See it in My appointments."),
    OrderKind.VISIT_ORDER: _l("Paid. Your number at the next counter is in My queue numbers."),
    OrderKind.WALK_IN: _l("Paid. Your number is in My queue numbers."),
    OrderKind.CONSULTATION: _l("Paid. Your question is sent to the doctor."),
}
# The button that leads there.
NEXT_STEP_BUTTONS = {
    OrderKind.APPOINTMENT: _l("My appointments"),
    OrderKind.VISIT_ORDER: _l("My queue numbers"),
    OrderKind.WALK_IN: _l("My queue numbers"),
    OrderKind.CONSULTATION: _l("My consultations"),
}


def _next_step(order: Order) -> tuple[str, object, object] | None:
    """Where a paid order leads on: the page the composition root named for its kind, if any."""
    from flask import current_app

    ref = OrderRef.read(order.reference)
    if ref is None or ref.kind not in NEXT_STEP_MESSAGES:
        return None
    endpoint = wiring.page_after_payment(ref.kind)
    if endpoint is None or endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint), NEXT_STEP_MESSAGES[ref.kind], NEXT_STEP_BUTTONS[ref.kind]


@bp.get("/orders/<int:order_id>/receipt.pdf")
@sign_in_page_required
def receipt_pdf(order_id: int) -> Response:
    account = signed_in_account()
    order = queries.order_for_viewer(order_id, actor=account)
    if order.paid_at is None:
        raise NotFound(
            _l("This order has not been paid, so it has no receipt."), code=ErrorCode.NOT_PAID
        )
    size = request.args.get("size", "a4")
    if size not in receipts.SIZES:
        raise InvalidInput(_l("Choose the receipt size a4 or 80mm."), code=ErrorCode.BAD_SIZE)
    _audit_staff_read(account, "order.receipt.read", [order])
    return Response(
        receipts.receipt_pdf(order, size=size),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{order.receipt_no}.pdf"'},
    )


@bp.get("/verify/<token>")
@token_access("the verification token printed on the receipt")
def verify_receipt(token: str) -> Page:
    """Public: only the receipt number, amount and date, nothing about the patient."""
    order = queries.receipt_by_token(token)
    if order is None:
        return render_template("billing/verify.html", order=None), 404
    paid_on = local_date(order.paid_at, _hospital_zone(order)) if order.paid_at else None
    return render_template("billing/verify.html", order=order, paid_on=paid_on)


@bp.post("/notify/<provider>")
@public("payment providers' notifications: only a valid signature changes anything")
@csrf.exempt
def notify(provider: str) -> Response:
    """Providers post their asynchronous, signed notifications here."""
    try:
        backend = payment_provider(provider, _config())
    except UnknownProvider:
        abort(404)
    outcome = settlement.handle_notification(
        provider, request.headers, request.get_data(cache=False), now=utcnow()
    )
    body, status = backend.acknowledgement(outcome.accepted)
    return Response(body, status=400 if outcome.refused else status, mimetype="text/plain")


# ---- the sandbox provider's hosted checkout (plays the provider's own site) -------------------


def _sandbox() -> SandboxProvider:
    try:
        provider = payment_provider("sandbox", _config())
    except UnknownProvider:
        abort(404)
    assert isinstance(provider, SandboxProvider)
    return provider


@bp.route("/sandbox/checkout/<out_trade_no>", methods=["GET", "POST"])
@token_access("the sandbox transaction's trade number (development provider only)")
def sandbox_checkout(out_trade_no: str) -> Page:
    sandbox = _sandbox()
    txn = sandbox.transaction(out_trade_no)
    if txn is None:
        abort(404)
    if request.method == "POST":
        outcome = request.form.get("outcome", "")
        if outcome not in ("success", "failure", "cancel"):
            raise InvalidInput(_l("Choose success, failure or cancel."), code=ErrorCode.BAD_OUTCOME)
        return redirect(sandbox.decide(out_trade_no, outcome, now=utcnow()))
    return render_template("billing/sandbox_checkout.html", txn=txn)


# ---- cashier console --------------------------------------------------------------------------


def _cashier() -> Account:
    account = signed_in_account()
    if not account.has_role(Role.CASHIER, Role.ADMIN):
        raise Forbidden(_l("This page is for cashiers."), code=ErrorCode.ROLE_REQUIRED)
    return account


def _day(account: Account) -> date:
    raw = request.args.get("date") or request.form.get("date")
    if not raw:
        hospital = db.session.get(Hospital, account.hospital_id)
        assert hospital is not None, "an account names an existing hospital"
        return local_date(utcnow(), zone_for(hospital))
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(_l("Enter the date as YYYY-MM-DD."), code=ErrorCode.BAD_DATE) from None


@bp.get("/cashier")
@sign_in_page_required
def cashier() -> Page:
    account = _cashier()
    code = request.args.get("code", "").strip()
    visit_code = ""
    if code and insured.looks_like_code(code):
        # A medical-insurance code shown on a phone: the patient's orders of today.
        patient = insured.patient_for_code(
            account.hospital_id, code, place="收费处 / cashier", now=utcnow()
        )
        if patient is None:
            raise NotFound(
                _l("This insurance code is not valid here, or it has expired. Ask for a new one."),
                code=ErrorCode.INSURANCE_CODE_INVALID,
            )
        day, visit_code = _day(account), code
        orders = [
            o for o in queries.orders_for_cashier(day, actor=account) if o.patient_id == patient.id
        ]
    elif code:
        # The patient's visit code: that visit's orders only (its day, its patient).
        visit = visit_at_staff_station(account, code, station="cashier", now=utcnow())
        day, visit_code = visit.service_date, visit.code
        orders = [
            o
            for o in queries.orders_for_cashier(day, actor=account)
            if o.patient_id == visit.patient_id
        ]
        if not orders:
            raise refuse_visit_here(account, visit, station="cashier", reason="no_orders")
    else:
        day = _day(account)
        orders = queries.orders_for_cashier(day, actor=account)
    _audit_staff_read(account, "order.cashier_list.read", orders)
    patients = _patients_of(orders)
    return render_template(
        "billing/cashier.html",
        orders=orders,
        patients=patients,
        day=day,
        visit_code=visit_code,
        **_page_context(),
    )


@bp.post("/cashier/orders/<int:order_id>/refund")
@sign_in_page_required
def cashier_refund(order_id: int) -> Page:
    account = _cashier()
    raw = request.form.get("amount", "").strip()
    try:
        amount = yuan_to_fen(raw if "." in raw or not raw else f"{raw}.00") if raw else None
    except ValueError:
        raise InvalidInput(
            _l("Enter the amount in yuan, e.g. 12.50."), code=ErrorCode.BAD_AMOUNT
        ) from None
    if amount is None and request.form.get("confirm") != "full":
        # Everything back is not undone by a second click: ask once, naming the amount.
        order = queries.order_for_viewer(order_id, actor=account)
        _audit_staff_read(account, "order.read", [order])
        return render_template(
            "billing/refund_confirm.html",
            order=order,
            reason=request.form.get("reason", ""),
            date=request.form.get("date", ""),
            **_page_context(),
        )
    issued = refunds.refund_order(
        order_id,
        actor=account,
        amount_fen=amount,
        kind=RefundKind.CASHIER,
        reason=request.form.get("reason", ""),
        now=utcnow(),
    )
    total = sum(r.amount_fen for r in issued)
    by_source: dict[str, int] = {}
    for part in issued:
        by_source[part.source] = by_source.get(part.source, 0) + part.amount_fen
    parts = "; ".join(
        f"{REFUND_SOURCE_LABELS[source]} {format_fen(by_source[source])}"
        for source in REFUND_SOURCE_LABELS
        if source in by_source
    )
    flash(_("Refunded %(amount)s: %(parts)s.", amount=format_fen(total), parts=parts), "success")
    return redirect(url_for("billing_pages.cashier", date=request.form.get("date") or None))


@bp.get("/cashier/reconciliation")
@sign_in_page_required
def reconciliation() -> Page:
    account = _cashier()
    day = _day(account)
    report = queries.daily_reconciliation(day, actor=account)
    fmt = request.args.get("format", "html")
    if fmt == "csv":
        body = csv_text(
            [
                _("Time"),
                _("Kind"),
                _("Provider"),
                _("Order"),
                _("Receipt no."),
                _("Transaction"),
                _("Amount (CNY)"),
            ],
            (
                [
                    line.at.isoformat(),
                    line.kind,
                    line.provider,
                    line.order_id,
                    line.receipt_no,
                    line.provider_txn_id,
                    fen_to_yuan(line.amount_fen),
                ]
                for line in report.lines
            ),
        )
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="reconciliation-{day}.csv"'},
        )
    if fmt == "pdf":
        html = render_template("billing/reconciliation_pdf.html", report=report, **_page_context())
        return Response(
            render_pdf(html),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="reconciliation-{day}.pdf"'},
        )
    return render_template("billing/reconciliation.html", report=report, **_page_context())
