"""An Alipay-style adapter following the open platform's public signing rules (RSA2).

Requests and notifications are signed SHA256withRSA over the parameters sorted by name and
joined as `k=v&k=v` without URL-encoding (empty values and `sign` left out; notifications also
leave out `sign_type`). A notification is believed only after its signature verifies and its
app_id and seller_id are ours; the service then checks out_trade_no and total_amount.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hospital.billing.pricing import fen_to_yuan, yuan_to_fen
from hospital.billing.providers.base import (
    Checkout,
    NotForUs,
    NotificationHeaders,
    ProviderReport,
    ProviderUnavailable,
    SignatureError,
)

GATEWAY = "https://openapi.alipay.com/gateway.do"
BEIJING = timezone(timedelta(hours=8))
_STATUS = {
    "TRADE_SUCCESS": "succeeded",
    "TRADE_FINISHED": "succeeded",
    "TRADE_CLOSED": "failed",
    "WAIT_BUYER_PAY": "pending",
}

Transport = Callable[[str, dict[str, str]], str]


def signing_string(params: Mapping[str, str], *, exclude: tuple[str, ...] = ("sign",)) -> str:
    """The sorted, unencoded `k=v&...` string that is signed."""
    return "&".join(
        f"{k}={params[k]}"
        for k in sorted(params)
        if k not in exclude and params[k] not in ("", None)
    )


def rsa2_sign(content: str, private_key: rsa.RSAPrivateKey) -> str:
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def rsa2_verify(content: str, signature: str, public_key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_private_key(pem_or_base64: str) -> rsa.RSAPrivateKey:
    """Accept a PEM key or the bare base64 PKCS#8 body that the Alipay console hands out."""
    text = pem_or_base64.strip()
    if "BEGIN" not in text:
        text = f"-----BEGIN PRIVATE KEY-----\n{text}\n-----END PRIVATE KEY-----"
    key = serialization.load_pem_private_key(text.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the Alipay app key must be an RSA key")
    return key


def load_public_key(pem_or_base64: str) -> rsa.RSAPublicKey:
    text = pem_or_base64.strip()
    if "BEGIN" not in text:
        text = f"-----BEGIN PUBLIC KEY-----\n{text}\n-----END PUBLIC KEY-----"
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the Alipay public key must be an RSA key")
    return key


def _post_form(url: str, params: dict[str, str]) -> str:
    import requests

    try:
        response = requests.post(url, data=params, timeout=10)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"Alipay gateway: {exc}") from exc
    return response.text


class AlipayProvider:
    name = "alipay"

    def __init__(
        self,
        *,
        app_id: str,
        seller_id: str,
        app_private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        gateway: str = GATEWAY,
        transport: Transport | None = None,
    ) -> None:
        self.app_id = app_id
        self.seller_id = seller_id
        self._private_key = app_private_key
        self._alipay_key = alipay_public_key
        self.gateway = gateway
        self._transport = transport or _post_form

    def _request(
        self, method: str, biz: dict[str, Any], *, now: datetime, **extra: str
    ) -> dict[str, str]:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **extra,
        }
        params["sign"] = rsa2_sign(signing_string(params), self._private_key)
        return params

    def checkout_url(self, checkout: Checkout, *, now: datetime) -> str:
        biz = {
            "out_trade_no": checkout.out_trade_no,
            "total_amount": fen_to_yuan(checkout.amount_fen),
            "subject": checkout.subject,
            "product_code": "FAST_INSTANT_TRADE_PAY",
        }
        params = self._request(
            "alipay.trade.page.pay",
            biz,
            now=now,
            notify_url=checkout.notify_url,
            return_url=checkout.return_url,
        )
        return f"{self.gateway}?{urlencode(params)}"

    def verify_notification(
        self, headers: NotificationHeaders, body: bytes, *, now: datetime
    ) -> ProviderReport:
        try:
            params = dict(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError):
            raise SignatureError("unreadable notification body") from None
        signature = params.get("sign", "")
        if not signature or params.get("sign_type", "RSA2") != "RSA2":
            raise SignatureError("missing or unsupported signature")
        content = signing_string(params, exclude=("sign", "sign_type"))
        if not rsa2_verify(content, signature, self._alipay_key):
            raise SignatureError("signature does not verify")
        if params.get("app_id") != self.app_id:
            raise NotForUs("app_id is not ours")
        if params.get("seller_id") != self.seller_id:
            raise NotForUs("seller_id is not ours")
        return self._report(params)

    def _report(self, fields: Mapping[str, Any]) -> ProviderReport:
        try:
            amount = yuan_to_fen(str(fields.get("total_amount", "")))
        except ValueError:
            amount = None
        return ProviderReport(
            out_trade_no=str(fields.get("out_trade_no", "")),
            provider_txn_id=str(fields.get("trade_no", "")),
            status=_STATUS.get(str(fields.get("trade_status", "")), "pending"),
            amount_fen=amount,
            currency="CNY",
        )

    def acknowledgement(self, accepted: bool) -> tuple[str, int]:
        # Alipay retries (for about 25 hours) until it reads the literal "success".
        return ("success" if accepted else "failure"), 200

    def _call(self, method: str, biz: dict[str, Any], *, now: datetime) -> dict[str, Any]:
        text = self._transport(self.gateway, self._request(method, biz, now=now))
        node_name = method.replace(".", "_") + "_response"
        node, signature = _response_node(text, node_name)
        if not rsa2_verify(node, signature, self._alipay_key):
            raise ProviderUnavailable(f"{method}: the gateway's answer is not signed by Alipay")
        return json.loads(node)

    def query(self, out_trade_no: str, *, now: datetime) -> ProviderReport | None:
        answer = self._call("alipay.trade.query", {"out_trade_no": out_trade_no}, now=now)
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise ProviderUnavailable(
                f"alipay.trade.query: {answer.get('sub_msg') or answer.get('msg')}"
            )
        return self._report(answer)

    def refund(
        self,
        *,
        out_trade_no: str,
        provider_txn_id: str,
        refund_no: str,
        amount_fen: int,
        now: datetime,
    ) -> str:
        biz = {
            "out_trade_no": out_trade_no,
            "refund_amount": fen_to_yuan(amount_fen),
            "out_request_no": refund_no,  # the same number again never refunds twice
        }
        answer = self._call("alipay.trade.refund", biz, now=now)
        if answer.get("code") != "10000":
            raise ProviderUnavailable(
                f"alipay.trade.refund: {answer.get('sub_msg') or answer.get('msg')}"
            )
        return f"{answer.get('trade_no', provider_txn_id)}:{refund_no}"


def _response_node(text: str, node_name: str) -> tuple[str, str]:
    """The raw JSON text of the response node (what Alipay signed) and its signature."""
    try:
        whole = json.loads(text)
        marker = f'"{node_name}"'
        start = text.index(marker) + len(marker)
        start = text.index(":", start) + 1
        while text[start] in " \t\r\n":
            start += 1
        _value, end = json.JSONDecoder().raw_decode(text, start)
    except (ValueError, IndexError):
        raise ProviderUnavailable("the gateway's answer is not valid JSON") from None
    return text[start:end], str(whole.get("sign", ""))
