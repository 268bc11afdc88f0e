"""Billing's reactions to scheduling: an order for a held appointment, voided when cancelled.

hospital.billing.wiring.connect connects them (once, however often it is called).
"""

from __future__ import annotations

from typing import Any

from hospital.billing.services.cancellations import cancel_registration_order
from hospital.billing.services.orders import (
    create_registration_order,
    registration_order_values,
)
from hospital.events import appointment_cancelled, appointment_held


def _on_appointment_held(_sender: Any, **kw: Any) -> None:
    if kw.get("order_created"):
        return  # the hold's own statement wrote it (registration_order_fragment)
    create_registration_order(
        registration_order_values(
            hospital_id=kw["hospital_id"],
            patient_id=kw["patient_id"],
            appointment_id=kw["appointment_id"],
            fee_fen=int(kw.get("fee_fen") or 0),
            fee_class=str(kw.get("fee_class") or ""),
            expires_at=kw.get("expires_at"),
            account_id=kw.get("account_id"),
            now=kw["now"],
        )
    )


def _on_appointment_cancelled(_sender: Any, **kw: Any) -> None:
    cancel_registration_order(
        hospital_id=kw["hospital_id"],
        appointment_id=kw["appointment_id"],
        reason=str(kw["reason"]),
        refund=str(kw.get("refund") or "policy"),
        now=kw["now"],
    )


def connect() -> None:
    """Connect billing's receivers (blinker keeps one connection per receiver)."""
    appointment_held.connect(_on_appointment_held)
    appointment_cancelled.connect(_on_appointment_cancelled)
