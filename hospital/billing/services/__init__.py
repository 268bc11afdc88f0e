"""Billing operations: orders, payments and refunds; the only writers of the billing tables.

Money rules (ARCHITECTURE invariant 6) are enforced by conditional updates, checked again by
database constraints: a payment succeeds once, an order is paid once, refunds never exceed
what was paid. A payment is believed only from a verified notification or a provider query,
never from the payer's return to our site.
"""
