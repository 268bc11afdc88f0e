"""The billing operations under their old address: a facade kept while callers move.

The operations live in hospital/billing/services/, one concern a module. This module only
re-exports the names that callers outside those modules still use, and imports the signal
receivers so that they connect, exactly once, when billing is imported (as before the split).
"""

from __future__ import annotations

from hospital.billing.services import receivers  # noqa: F401  (connects billing's receivers)
from hospital.billing.services.cancellations import cancel_walk_in_order
from hospital.billing.services.orders import (
    STAFF_ORDERING_ROLES,
    ItemRequest,
    apply_insurance,
    create_visit_order,
    create_walk_in_order,
    registration_fee_fen,
    walk_in_fee_fen,
)
from hospital.billing.services.payments import StartedPayment, start_payment
from hospital.billing.services.queries import (
    ReconciliationReport,
    daily_reconciliation,
    fee_schedule,
    order_for_payer,
    order_for_viewer,
    orders_for_account,
    orders_for_cashier,
    receipt_by_token,
)
from hospital.billing.services.refunds import refund_order, retry_pending_refunds
from hospital.billing.services.settlement import (
    NotificationResult,
    handle_notification,
    reconcile_pending_payments,
)

__all__ = [
    "STAFF_ORDERING_ROLES",
    "ItemRequest",
    "NotificationResult",
    "ReconciliationReport",
    "StartedPayment",
    "apply_insurance",
    "cancel_walk_in_order",
    "create_visit_order",
    "create_walk_in_order",
    "daily_reconciliation",
    "fee_schedule",
    "handle_notification",
    "order_for_payer",
    "order_for_viewer",
    "orders_for_account",
    "orders_for_cashier",
    "receipt_by_token",
    "reconcile_pending_payments",
    "refund_order",
    "registration_fee_fen",
    "retry_pending_refunds",
    "start_payment",
    "walk_in_fee_fen",
]
