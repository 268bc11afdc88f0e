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
