"""Signals through which modules talk across the kernel without importing each other.

A sender emits after its own state change (inside the unit of work); a receiver in another
module reacts in the same transaction. Each signal documents its keyword arguments.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# patient_id, account_id, now
family_member_added = _signals.signal("family-member-added")
# account_id, now
account_disabled = _signals.signal("account-disabled")

# ---- scheduling <-> billing -------------------------------------------------------------
# A hold was placed. kwargs: appointment_id, hospital_id, patient_id, account_id, fee_fen (int,
# 0 when free), fee_class (str), expires_at (aware UTC), now. Billing creates the order.
appointment_held = _signals.signal("appointment-held")
# A held or booked appointment ended without being served. kwargs: appointment_id, hospital_id,
# patient_id, reason ("patient_cancelled" | "hospital_cancelled" | "expired"), refund ("full" |
# "policy" | "none"), now. Billing refunds or voids the order accordingly.
appointment_cancelled = _signals.signal("appointment-cancelled")
# An order was paid (confirmed by a verified provider notification or query). kwargs: order_id,
# hospital_id, purpose ("registration" | "visit"), reference (e.g. "appointment:42"), now.
# A receiver returns False when it cannot accept the payment (e.g. the hold lapsed and the slot
# is full): billing then refunds in full and tells the patient.
order_paid = _signals.signal("order-paid")
