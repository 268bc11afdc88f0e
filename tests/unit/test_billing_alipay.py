"""The Alipay-style adapter: RSA2 request signing, notification checks, signed gateway answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hospital.billing.providers.alipay import (
    AlipayProvider,
    rsa2_sign,
    rsa2_verify,
    signing_string,
)
from hospital.billing.providers.base import Checkout, NotForUs, ProviderUnavailable, SignatureError

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
APP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALIPAY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def provider(transport=None) -> AlipayProvider:  # type: ignore[no-untyped-def]
    return AlipayProvider(
        app_id="2021000000000001",
        seller_id="2088000000000001",
        app_private_key=APP_KEY,
        alipay_public_key=ALIPAY_KEY.public_key(),
        gateway="https://alipay.test/gateway.do",
        transport=transport,
    )


def notify_body(key: rsa.RSAPrivateKey = ALIPAY_KEY, **overrides: str) -> bytes:
    params = {
        "notify_time": "2026-11-28 14:00:00",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": "2021000000000001",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026112822001400000000000001",
        "out_trade_no": "HQ20261128abc",
        "total_amount": "12.00",
        "seller_id": "2088000000000001",
        "trade_status": "TRADE_SUCCESS",
        "subject": "挂号费 & 诊查",
    }
    params.update(overrides)
    params["sign"] = rsa2_sign(signing_string(params, exclude=("sign", "sign_type")), key)
    return urlencode(params).encode()


def test_signing_string_is_sorted_unencoded_and_skips_empty_values_and_sign() -> None:
    params = {"b": "2", "a": "x y&z", "sign": "s", "c": "", "biz_content": '{"k":"值"}'}
    assert signing_string(params) == 'a=x y&z&b=2&biz_content={"k":"值"}'


def test_page_pay_url_carries_a_verifiable_rsa2_signature() -> None:
    url = provider().checkout_url(
        Checkout(1, "HQ20261128abc", 1200, "CNY", "Order 1", "https://h/notify", "https://h/ret"),
        now=NOW,
    )
    parts = urlsplit(url)
    assert parts.netloc == "alipay.test"
    params = dict(parse_qsl(parts.query))
    assert params["method"] == "alipay.trade.page.pay"
    assert params["sign_type"] == "RSA2"
    assert params["timestamp"] == "2026-11-28 14:00:00"  # Beijing time
    biz = json.loads(params["biz_content"])
    assert biz["total_amount"] == "12.00" and biz["out_trade_no"] == "HQ20261128abc"
    assert rsa2_verify(signing_string(params), params["sign"], APP_KEY.public_key())
    assert not rsa2_verify(signing_string(params), params["sign"], OTHER_KEY.public_key())


def test_a_genuine_notification_reports_the_payment() -> None:
    report = provider().verify_notification({}, notify_body(), now=NOW)
    assert report.out_trade_no == "HQ20261128abc"
    assert report.provider_txn_id == "2026112822001400000000000001"
    assert report.status == "succeeded"
    assert report.amount_fen == 1200
    assert provider().acknowledgement(True) == ("success", 200)


@pytest.mark.parametrize(
    "body",
    [
        notify_body(OTHER_KEY),
        notify_body().replace(b"total_amount=12.00", b"total_amount=13.00"),
        notify_body().replace(b"&sign=", b"&nosign="),
        b"not a form",
        b"\xff\xfe",
    ],
    ids=["other key", "amount changed", "no sign", "garbage", "not utf-8"],
)
def test_unsigned_or_tampered_notifications_are_refused(body: bytes) -> None:
    with pytest.raises(SignatureError):
        provider().verify_notification({}, body, now=NOW)


def test_notifications_for_another_app_or_seller_are_not_for_us() -> None:
    with pytest.raises(NotForUs):
        provider().verify_notification({}, notify_body(app_id="2021999999999999"), now=NOW)
    with pytest.raises(NotForUs):
        provider().verify_notification({}, notify_body(seller_id="2088999999999999"), now=NOW)


def _gateway(answers: dict[str, dict[str, str]], key: rsa.RSAPrivateKey = ALIPAY_KEY):  # type: ignore[no-untyped-def]
    """A fake Alipay gateway that checks our request signature and signs its answers."""
    calls: list[dict[str, str]] = []

    def transport(url: str, params: dict[str, str]) -> str:
        assert rsa2_verify(signing_string(params), params["sign"], APP_KEY.public_key())
        calls.append(params)
        node_name = params["method"].replace(".", "_") + "_response"
        node = json.dumps(answers[params["method"]], ensure_ascii=False, separators=(",", ":"))
        return f'{{"{node_name}":{node},"sign":"{rsa2_sign(node, key)}"}}'

    return transport, calls


def test_query_reads_a_signed_gateway_answer() -> None:
    transport, calls = _gateway(
        {
            "alipay.trade.query": {
                "code": "10000",
                "msg": "Success",
                "trade_no": "T1",
                "out_trade_no": "HQ1",
                "trade_status": "TRADE_SUCCESS",
                "total_amount": "88.88",
            }
        }
    )
    report = provider(transport).query("HQ1", now=NOW)
    assert report is not None
    assert (report.status, report.amount_fen, report.provider_txn_id) == ("succeeded", 8888, "T1")
    assert json.loads(calls[0]["biz_content"]) == {"out_trade_no": "HQ1"}


def test_query_of_an_unknown_trade_is_none() -> None:
    transport, _ = _gateway(
        {"alipay.trade.query": {"code": "40004", "sub_code": "ACQ.TRADE_NOT_EXIST", "msg": "x"}}
    )
    assert provider(transport).query("HQ1", now=NOW) is None


def test_a_gateway_answer_not_signed_by_alipay_is_not_believed() -> None:
    transport, _ = _gateway(
        {"alipay.trade.query": {"code": "10000", "trade_status": "TRADE_SUCCESS"}}, key=OTHER_KEY
    )
    with pytest.raises(ProviderUnavailable):
        provider(transport).query("HQ1", now=NOW)


def test_refund_sends_our_refund_number_for_idempotency() -> None:
    transport, calls = _gateway(
        {"alipay.trade.refund": {"code": "10000", "msg": "Success", "trade_no": "T1"}}
    )
    refund_id = provider(transport).refund(
        out_trade_no="HQ1", provider_txn_id="T1", refund_no="RF1", amount_fen=550, now=NOW
    )
    assert refund_id == "T1:RF1"
    biz = json.loads(calls[0]["biz_content"])
    assert biz == {"out_trade_no": "HQ1", "refund_amount": "5.50", "out_request_no": "RF1"}
