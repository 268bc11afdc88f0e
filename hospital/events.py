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
# 0 when free), fee_class (str), expires_at (aware UTC), order_created (bool), now. Billing
# creates the order, unless order_created: the hold's fast path on PostgreSQL runs billing's
# order statements (billing.services.orders.registration_order_fragment) inside the statement
# that inserts the hold, so the slot's row is locked for one round trip fewer.
appointment_held = _signals.signal("appointment-held")
# A held or booked appointment ended without being served. kwargs: appointment_id, hospital_id,
# patient_id, reason ("patient_cancelled" | "hospital_cancelled" | "expired"), refund ("full" |
# "policy" | "none"), now. Billing refunds or voids the order accordingly.
appointment_cancelled = _signals.signal("appointment-cancelled")
# An order was paid (confirmed by a verified provider notification or query). kwargs: order_id,
# hospital_id, purpose ("registration" | "visit"), reference (e.g. "appointment:42"), patient_id,
# visit_key (the visit the order belongs to, e.g. "appointment:42" or "ticket:7"), categories
# (tuple of the items' category values, e.g. ("lab_test", "medicine")), now.
# A receiver returns False when it cannot accept the payment (e.g. the hold lapsed and the slot
# is full): billing then refunds in full and tells the patient.
order_paid = _signals.signal("order-paid")

# ---- operations statistics (received by reports/stats.py) --------------------------------
# Each visit event is reported once by the module that owns the state change; reports keeps a
# summary table from them. Times are aware UTC datetimes; ids are ints or None.
# Folding: a sender about to run one statement while it holds a queue row locked may send
# visit_checked_in, ticket_first_called or ticket_completed first with `fold=[]` (a list). A
# receiver whose whole work is one INSERT or UPDATE then appends (statement, parameters) instead
# of executing it: the statement (SQLAlchemy Core or typed text, with RETURNING, its bind names
# its own) built once and kept, the parameters this time's values. The sender runs it as a CTE of
# its own statement (PostgreSQL), combined once per shape: the same transaction, one round trip
# fewer under the lock, and no statement built or walked for its cache key. Without `fold` (the
# default) receivers execute as usual. A receiver that does not fold runs before the sender's
# statement, so it must not read the rows that statement writes (the ticket, its call).
# An appointment became booked (paid, or free). kwargs: appointment_id, hospital_id, patient_id,
# department_id, clinician_id, starts_at, online (bool: booked by the patient from a phone or
# the web, not at a desk or kiosk), now. Sent by scheduling.
appointment_booked = _signals.signal("appointment-booked")
# The patient checked in (a ticket exists). kwargs: appointment_id (None for a walk-in),
# ticket_id, hospital_id, department_id, clinician_id, patient_id (None for an anonymous
# walk-in), service_point_id, now. Sent by queueing (or scheduling).
visit_checked_in = _signals.signal("visit-checked-in")
# The session ended without the patient checking in. kwargs: appointment_id, hospital_id, now.
# Sent by scheduling.
appointment_no_show = _signals.signal("appointment-no-show")
# A ticket was called for the first time. kwargs: ticket_id, hospital_id, now (the call time),
# counter_id, counter_code, counter_point_id (the counter's own service point), account_id (the
# staff member who called, None for a device). Recalls send nothing. Sent by queueing.
ticket_first_called = _signals.signal("ticket-first-called")
# A counter paused or resumed. kwargs: hospital_id, counter_id, counter_code, counter_point_id,
# account_id, paused (bool), now. Sent by queueing; the statistics count pauses and their length.
counter_pause_changed = _signals.signal("counter-pause-changed")
# A patient answered the satisfaction survey (once per visit). kwargs: survey_id, hospital_id,
# department_id, service_date, wait_score, staff_score, overall_score (1-5), comment (str),
# via ("link" | "kiosk"), now. Sent by queueing; the statistics show it by department and week.
survey_answered = _signals.signal("survey-answered")
# Service began / ended for a ticket. kwargs: ticket_id, hospital_id, now. Sent by queueing.
ticket_serving_started = _signals.signal("ticket-serving-started")
ticket_completed = _signals.signal("ticket-completed")
# Wait ranges shown to patients were judged against when they were called, grouped by the local
# hour they were shown in. kwargs: hospital_id, service_point_id, service_date, hour (0-23),
# shown, inside (counts), abs_error_seconds (sum of |midpoint - actual|), now. Sent by queueing.
wait_estimates_judged = _signals.signal("wait-estimates-judged")
# Money was taken for an order. kwargs: order_id, hospital_id, patient_id, amount_fen (int),
# online (bool:
# paid from a phone or the web, not at a cashier's desk), reference (e.g. "appointment:42"),
# now. Sent by billing (alongside order_paid).
payment_received = _signals.signal("payment-received")
# Money was refunded. kwargs: order_id, hospital_id, amount_fen (int), reference (e.g.
# "walk-in:9"), fully_refunded (bool: nothing paid for the order is kept), now. Sent by billing;
# queueing cancels the order's (or walk-in's) ticket still waiting when fully_refunded.
refund_issued = _signals.signal("refund-issued")
# A report was first released to the patient. kwargs: report_id, hospital_id, patient_id, now.
# Sent by reports; the visit counts the report window it replaced.
report_released = _signals.signal("report-released")
