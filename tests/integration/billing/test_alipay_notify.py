"""Alipay-style notifications at our endpoint: verified by signature, then by order, amount,
app and seller; anything else is ignored and logged; the answer is the literal `success`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from hospital.billing.models import (
    NotificationOutcome,
    Order,
    OrderStatus,
    Payment,
    ProviderNotification,
)
from hospital.billing.providers.alipay import rsa2_sign, signing_string
from hospital.billing.services import payments
from hospital.db import db, utcnow
from tests.support.billing_factories import create_visit_order

APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALIPAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(autouse=True)
def alipay_enabled(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(app.config, "BILLING_PROVIDERS", "sandbox,alipay")
    monkeypatch.setitem(app.config, "BILLING_ALIPAY_APP_ID", APP_ID)
    monkeypatch.setitem(app.config, "BILLING_ALIPAY_SELLER_ID", SELLER_ID)
    monkeypatch.setitem(app.config, "BILLING_ALIPAY_APP_PRIVATE_KEY", _pem_private(APP_KEY))
    monkeypatch.setitem(app.config, "BILLING_ALIPAY_PUBLIC_KEY", _pem_public(ALIPAY_KEY))
    monkeypatch.setitem(app.config, "BILLING_ALIPAY_GATEWAY", "https://alipay.test/gateway.do")
    yield


def notify_form(payment: Payment, **overrides: str) -> bytes:
    params = {
        "notify_time": "2026-11-28 14:00:00",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026112822001400000000000001",
        "out_trade_no": payment.out_trade_no,
        "total_amount": f"{payment.amount_fen // 100}.{payment.amount_fen % 100:02d}",
        "seller_id": SELLER_ID,
        "trade_status": "TRADE_SUCCESS",
    }
    params.update(overrides)
    params["sign"] = rsa2_sign(signing_string(params, exclude=("sign", "sign_type")), ALIPAY_KEY)
    return urlencode(params).encode()


@pytest.fixture
def payment(client: Any, hospital: Any, create_account: Any, create_patient: Any) -> Payment:
    account = create_account(hospital)
    patient = create_patient(hospital, account=account)
    order = create_visit_order(hospital, patient, now=utcnow())
    started = payments.start_payment(order.id, actor=account, provider_name="alipay", now=utcnow())
    assert started.payment is not None
    query = dict(parse_qsl(urlsplit(started.redirect_url).query))
    assert query["method"] == "alipay.trade.page.pay"
    assert query["notify_url"] == "http://hospital.test/billing/notify/alipay"
    db.session.commit()
    return started.payment


def post(client: Any, body: bytes) -> tuple[int, str]:
    response = client.post(
        "/billing/notify/alipay",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"total_amount": "0.01"}, "amount does not match"),
        ({"out_trade_no": "HQ-not-ours"}, "unknown out_trade_no"),
        ({"seller_id": "2088999999999999"}, "seller_id is not ours"),
        ({"app_id": "2021999999999999"}, "app_id is not ours"),
    ],
)
def test_signed_but_mismatching_notifications_are_ignored_and_logged(
    client: Any, payment: Payment, overrides: dict[str, str], reason: str
) -> None:
    assert post(client, notify_form(payment, **overrides)) == (200, "failure")
    db.session.expire_all()
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PENDING
    logged = db.session.scalars(
        sa.select(ProviderNotification).where(ProviderNotification.provider == "alipay")
    ).all()
    assert [(n.outcome, n.reason) for n in logged] == [(NotificationOutcome.IGNORED, reason)]


def test_a_notification_signed_by_someone_else_is_refused(client: Any, payment: Payment) -> None:
    body = notify_form(payment)
    forged = body.replace(b"sign=", b"sign=AAAA", 1)
    status, text = post(client, forged)
    assert status == 400 and text != "success"
    db.session.expire_all()
    assert db.session.get(Order, payment.order_id).status == OrderStatus.PENDING


def test_a_genuine_notification_pays_once_and_is_answered_success(
    client: Any, payment: Payment
) -> None:
    body = notify_form(payment)
    assert post(client, body) == (200, "success")
    assert post(client, body) == (200, "success")  # Alipay retries; nothing changes
    db.session.expire_all()
    order = db.session.get(Order, payment.order_id)
    assert order.status == OrderStatus.PAID
    assert db.session.get(Payment, payment.id).provider_txn_id == "2026112822001400000000000001"
    outcomes = db.session.scalars(
        sa.select(ProviderNotification.outcome).where(ProviderNotification.provider == "alipay")
    ).all()
    assert outcomes == [NotificationOutcome.ACCEPTED, NotificationOutcome.DUPLICATE]
