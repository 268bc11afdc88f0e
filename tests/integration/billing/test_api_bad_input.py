"""Bad input to the billing API gets a clear 4xx, never a 500, and a client cannot set amounts."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.billing.models import Order, OrderStatus, Payment
from hospital.db import db, utcnow
from tests.support.auth import sign_in
from tests.support.billing_factories import create_fee_item, create_visit_order


@pytest.fixture
def patient_order(client: Any, hospital: Any, create_account: Any, create_patient: Any) -> Order:
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(hospital, patient, now=utcnow())
    sign_in(client, account)
    return order


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"provider": "cash"},
        {"provider": 1},
        {"provider": "sandbox", "amount_fen": 1},
        {"provider": "sandbox", "amount": "0.01"},
        {"provider": "sandbox", "order_id": 1},
        {"provider": "sandbox", "currency": "USD"},
        [],
        "sandbox",
    ],
)
def test_create_payment_refuses_bad_bodies(client: Any, patient_order: Order, body: Any) -> None:
    response = client.post(f"/api/v1/billing/orders/{patient_order.id}/payments", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_the_amount_always_comes_from_the_order(client: Any, patient_order: Order) -> None:
    response = client.post(
        f"/api/v1/billing/orders/{patient_order.id}/payments", json={"provider": "sandbox"}
    )
    assert response.status_code == 201
    assert response.get_json()["amount_fen"] == patient_order.self_pay_fen == 5000


def test_a_changed_order_id_in_the_path_reaches_nothing(client: Any, patient_order: Order) -> None:
    for path in ("999999", "0", "-1", "abc", "1.5", "99999999999999999999"):
        response = client.post(
            f"/api/v1/billing/orders/{path}/payments", json={"provider": "sandbox"}
        )
        assert response.status_code == 404, path


def test_a_repeated_create_payment_with_one_key_opens_one_payment(
    client: Any, patient_order: Order
) -> None:
    url = f"/api/v1/billing/orders/{patient_order.id}/payments"
    headers = {"Idempotency-Key": "pay-1"}
    first = client.post(url, json={"provider": "sandbox"}, headers=headers)
    second = client.post(url, json={"provider": "sandbox"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_cookie_api_calls_without_json_are_refused(client: Any, patient_order: Order) -> None:
    response = client.post(
        f"/api/v1/billing/orders/{patient_order.id}/payments", data={"provider": "sandbox"}
    )
    assert response.status_code == 415


def test_staff_visit_orders_validate_their_items(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    patient = create_patient(hospital)
    item = create_fee_item(hospital, price_fen=3000)
    clinician = create_account(hospital, roles=(Role.CLINICIAN,))
    sign_in(client, clinician)
    base = {"patient_id": patient.id, "visit_key": "visit:9"}
    bad = [
        {**base, "items": []},
        {**base, "items": [{"fee_item_id": item.id, "quantity": 0}]},
        {**base, "items": [{"fee_item_id": item.id, "price_fen": 1}]},
        {**base, "items": [{"fee_item_id": 999999}]},
        {**base, "items": [{"fee_item_id": item.id}], "total_fen": 1},
        {"visit_key": "v", "items": [{"fee_item_id": item.id}]},
        {**base, "patient_id": 999999, "items": [{"fee_item_id": item.id}]},
    ]
    for body in bad:
        response = client.post("/api/v1/billing/orders", json=body)
        assert response.status_code in (404, 422), (body, response.get_json())
    good = client.post(
        "/api/v1/billing/orders", json={**base, "items": [{"fee_item_id": item.id, "quantity": 2}]}
    )
    assert good.status_code == 201, good.get_json()
    assert good.get_json()["total_fen"] == 6000
    assert good.get_json()["status"] == OrderStatus.PENDING.value


def test_patients_cannot_create_orders(client: Any, patient_order: Order) -> None:
    response = client.post(
        "/api/v1/billing/orders",
        json={
            "patient_id": patient_order.patient_id,
            "visit_key": "x",
            "items": [{"fee_item_id": 1}],
        },
    )
    assert response.status_code == 403


def test_unknown_notify_provider_is_not_found(client: Any) -> None:
    assert client.post("/billing/notify/paypal", data=b"x").status_code == 404


def test_bad_query_arguments_are_explained(client: Any, hospital: Any, create_account: Any) -> None:
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    assert client.get("/api/v1/billing/reconciliation?date=yesterday").status_code == 422
    assert client.get("/api/v1/billing/reconciliation").status_code == 422
    assert client.get("/api/v1/billing/reconciliation?date=2026-11-28").status_code == 200
    assert client.get("/billing/cashier?date=28/11/2026").status_code == 422
