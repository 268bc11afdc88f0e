"""Receipt PDFs (A4 and an 80 mm roll) with a verification QR code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.billing.models import Order, Payment, PaymentSource, Refund, RefundStatus
from hospital.db import db
from hospital.organisation.models import Hospital
from hospital.patients.identity import mask_id_number, mask_phone
from hospital.patients.models import FamilyLink, Patient, Relationship
from hospital.pdf import render_pdf
from hospital.qr import qr_png_data_uri
from hospital.zones import zone_for

SIZES = ("a4", "80mm")
# The receipt's styles (both sizes), parsed once by render_pdf for every receipt.
RECEIPT_CSS = (Path(__file__).parent / "templates" / "billing" / "receipt_pdf.css").read_text()
VERIFY_PATH = "/billing/verify/{token}"

# Where a refund's money went (Refund.source), in the order a person reads them.
REFUND_SOURCE_LABELS = {
    "self_pay": _l("Cash (payment provider)"),
    "insurance": _l("Medical insurance fund"),
    "personal_account": _l("Own insurance account"),
    "family_account": _l("Family member's insurance account (家庭共济)"),
}


def refunded_by_source(order_id: int) -> dict[str, int]:
    """What was refunded (or is on its way back) to each source, in REFUND_SOURCE_LABELS order."""
    found: dict[str, int] = {}
    for refund in db.session.scalars(
        sa.select(Refund).where(Refund.order_id == order_id, Refund.status != RefundStatus.FAILED)
    ).all():
        found[refund.source] = found.get(refund.source, 0) + refund.amount_fen
    return {source: found[source] for source in REFUND_SOURCE_LABELS if source in found}


@dataclass(frozen=True)
class ReceiptView:
    order: Order
    hospital: Hospital
    patient_name: str
    patient_id_masked: str
    payer: str  # empty unless a family member (not the patient) paid
    paid_at_local: datetime
    transaction_ids: list[str]
    verify_url: str
    refunds: dict[str, int]  # Refund.source -> fen


def receipt_view(order: Order) -> ReceiptView:
    hospital = db.session.get(Hospital, order.hospital_id)
    patient = db.session.get(Patient, order.patient_id)
    assert hospital is not None and patient is not None and order.paid_at is not None
    payer = ""
    if order.paid_by_account_id is not None:
        link = db.session.scalar(
            sa.select(FamilyLink).where(
                FamilyLink.account_id == order.paid_by_account_id,
                FamilyLink.patient_id == patient.id,
            )
        )
        if link is not None and link.relationship != Relationship.SELF:
            account = db.session.get(Account, order.paid_by_account_id)
            if account is not None:
                payer = account.display_name or mask_phone(account.phone or "")
    txns = db.session.scalars(
        sa.select(Payment.provider_txn_id)
        .where(Payment.order_id == order.id, Payment.settles_order.is_(True))
        .order_by(Payment.source != PaymentSource.SELF_PAY, Payment.id)
    ).all()
    base = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return ReceiptView(
        order=order,
        hospital=hospital,
        patient_name=patient.name,
        patient_id_masked=mask_id_number(patient.id_number),
        payer=payer,
        paid_at_local=order.paid_at.astimezone(zone_for(hospital)),
        transaction_ids=[t for t in txns if t],
        verify_url=base + VERIFY_PATH.format(token=order.verification_token),
        refunds=refunded_by_source(order.id),
    )


def receipt_html(order: Order, *, size: str = "a4") -> str:
    if size not in SIZES:
        raise ValueError(f"receipt size must be one of {SIZES}")
    return receipt_view_html(receipt_view(order), size=size)


def receipt_view_html(view: ReceiptView, *, size: str = "a4") -> str:
    """The receipt document for a view; the QR code is a small PNG (cheap for WeasyPrint)."""
    return render_template(
        "billing/receipt_pdf.html",
        refund_labels=REFUND_SOURCE_LABELS,
        r=view,
        size=size,
        qr=qr_png_data_uri(view.verify_url),
    )


def receipt_pdf(order: Order, *, size: str = "a4") -> bytes:
    return render_pdf(receipt_html(order, size=size), css=(RECEIPT_CSS,))
