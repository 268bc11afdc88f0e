"""Billing's boundary: wired once by create_app, asked through public queries, names no page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, url_for

from hospital.billing import wiring
from hospital.billing.references import OrderKind, OrderRef
from hospital.billing.services import queries
from hospital.billing.services.receivers import _on_appointment_cancelled, _on_appointment_held
from hospital.db import db
from hospital.events import appointment_cancelled, appointment_held
from hospital.notifications.messages import TEMPLATES
from hospital.patients.models import Patient
from tests.support.auth import sign_in
from tests.support.billing_factories import (
    create_visit_order,
    deliver_sandbox_notification,
    hold_a_paid_place,
    succeeded_sandbox_payment,
)
from tests.support.scheduling_factories import NOW


@contextmanager
def wired(app: Flask, **kw: Any) -> Iterator[None]:
    """Connect billing again with these arguments; put the app's own wiring back afterwards."""
    saved = app.extensions.get("hospital.billing")
    try:
        wiring.connect(app, **kw)
        yield
    finally:
        app.extensions["hospital.billing"] = saved


def _count(signal: Any, receiver: Any) -> int:
    return sum(1 for r in signal.receivers_for(object()) if r is receiver)


def test_connect_is_idempotent(app: Flask) -> None:
    assert _count(appointment_held, _on_appointment_held) == 1
    with wired(app), wired(app):
        assert _count(appointment_held, _on_appointment_held) == 1
        assert _count(appointment_cancelled, _on_appointment_cancelled) == 1
        assert {"billing.refunded", "billing.late_payment_refunded"} <= TEMPLATES.keys()


def test_connect_refuses_a_kind_of_order_it_does_not_know(app: Flask) -> None:
    with pytest.raises(ValueError), wired(app, after_payment={"prescription": "x.y"}):
        pass


def _paid_appointment(hospital: Any, create_department: Any, create_clinician: Any) -> Any:
    clinician = create_clinician(create_department(hospital))
    held, order, account = hold_a_paid_place(hospital, clinician)
    payment = succeeded_sandbox_payment(order, account, now=NOW)
    assert deliver_sandbox_notification(payment, now=NOW + timedelta(seconds=5)).accepted
    return held, order, account


def test_a_paid_appointment_leads_to_the_page_the_composition_root_named(
    app: Flask, client: Any, hospital: Any, create_department: Any, create_clinician: Any
) -> None:
    _held, order, account = _paid_appointment(hospital, create_department, create_clinician)
    sign_in(client, account)
    page = client.get(f"/billing/orders/{order.id}/result").get_data(as_text=True)
    with app.test_request_context():
        appointments = url_for("scheduling_pages.my_appointments")
    assert f'href="{appointments}"' in page
    with wired(app):  # no page named: billing links nowhere
        bare = client.get(f"/billing/orders/{order.id}/result").get_data(as_text=True)
    assert "My appointments" not in bare and "我的预约" not in bare
    with wired(app, after_payment={OrderKind.APPOINTMENT: "billing_pages.my_orders"}):
        elsewhere = client.get(f"/billing/orders/{order.id}/result").get_data(as_text=True)
    assert 'href="/billing/orders"' in elsewhere


def test_public_queries_answer_for_a_reference_and_a_visit(
    hospital: Any, create_department: Any, create_clinician: Any
) -> None:
    held, order, _account = _paid_appointment(hospital, create_department, create_clinician)
    ref = OrderRef.appointment(held.id)
    assert queries.order_for(hospital.id, ref).id == order.id
    assert queries.pending_order_for(hospital.id, ref) is None  # paid
    assert queries.order_for(hospital.id, OrderRef.appointment(held.id + 1000)) is None
    assert queries.order_for(hospital.id + 1000, ref) is None
    # The registration order's visit is the appointment; staff's orders may join it.
    patient = db.session.get(Patient, order.patient_id)
    extra = create_visit_order(hospital, patient, now=NOW, visit_key=ref.format())
    visit = queries.orders_of_visit(hospital.id, order.patient_id, ref)
    assert [o.id for o in visit] == sorted([order.id, extra.id])
    assert queries.orders_of_visit(hospital.id, order.patient_id, "no such visit") == []
    assert queries.order_id_named(hospital.id, order.patient_id, f"order:{order.id}") == order.id
    assert queries.order_id_named(hospital.id, order.patient_id, ref.format()) == order.id
    assert queries.order_id_named(hospital.id, order.patient_id, "order:x") is None
    assert queries.order_id_named(hospital.id, order.patient_id + 1000, ref.format()) is None
