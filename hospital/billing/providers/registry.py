"""Pick the configured payment providers and insurance adapter (sandbox by default)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from hospital.billing.providers.alipay import AlipayProvider, load_private_key, load_public_key
from hospital.billing.providers.base import PaymentProvider
from hospital.billing.providers.insurance import InsuranceAdapter, SandboxInsurance
from hospital.billing.providers.sandbox import SandboxProvider


class UnknownProvider(LookupError):
    pass


def enabled_provider_names(config: Mapping[str, Any]) -> list[str]:
    raw = config.get("BILLING_PROVIDERS") or "sandbox"
    names = [n.strip() for n in str(raw).split(",") if n.strip()]
    return [n for n in names if n in ("sandbox", "alipay")]


def sandbox_secrets(config: Mapping[str, Any]) -> list[str]:
    """Configured secrets (comma-separated, newest first), else one derived from SECRET_KEY."""
    raw = config.get("BILLING_SANDBOX_WEBHOOK_SECRETS")
    if raw:
        return [s.strip() for s in str(raw).split(",") if s.strip()]
    key = str(config.get("SECRET_KEY") or "").encode()
    return [hmac.new(key, b"billing-sandbox-webhook", hashlib.sha256).hexdigest()]


def payment_provider(name: str, config: Mapping[str, Any]) -> PaymentProvider:
    if name not in enabled_provider_names(config):
        raise UnknownProvider(name)
    if name == "sandbox":
        return SandboxProvider(
            webhook_secrets=sandbox_secrets(config),
            checkout_base_url=str(config.get("PUBLIC_URL") or ""),
            max_delay_s=int(config.get("BILLING_SANDBOX_MAX_DELAY_S", 5)),
            duplicate_rate=float(config.get("BILLING_SANDBOX_DUPLICATE_RATE", 0.3)),
        )
    return AlipayProvider(
        app_id=str(config["BILLING_ALIPAY_APP_ID"]),
        seller_id=str(config["BILLING_ALIPAY_SELLER_ID"]),
        app_private_key=load_private_key(str(config["BILLING_ALIPAY_APP_PRIVATE_KEY"])),
        alipay_public_key=load_public_key(str(config["BILLING_ALIPAY_PUBLIC_KEY"])),
        gateway=str(
            config.get("BILLING_ALIPAY_GATEWAY") or "https://openapi.alipay.com/gateway.do"
        ),
    )


def insurance_adapter(config: Mapping[str, Any]) -> InsuranceAdapter:
    coverage = config.get("BILLING_INSURANCE_COVERAGE")
    if isinstance(coverage, str):
        coverage = json.loads(coverage)
    key = str(config.get("SECRET_KEY") or "").encode()
    return SandboxInsurance(
        coverage_percent=coverage,
        deductible_fen=int(config.get("BILLING_INSURANCE_DEDUCTIBLE_FEN", 1000)),
        opening_balance_fen=int(config.get("BILLING_INSURANCE_SANDBOX_BALANCE_FEN", 50000)),
        secret=hmac.new(key, b"insurance-sandbox-person", hashlib.sha256).hexdigest(),
    )
