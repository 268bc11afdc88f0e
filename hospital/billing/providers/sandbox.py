"""The built-in sandbox provider: a hosted checkout page in our app and signed notifications.

It behaves like a real provider so the whole flow runs on a laptop: the payer picks success,
failure or cancel on the checkout page; the outcome reaches our notify endpoint only as an
asynchronous notification, signed Stripe-style, delivered by a job with retries. Like real
providers it sometimes delivers twice, out of order, or late.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from hospital.billing.models import SandboxDelivery, SandboxTransaction
from hospital.billing.providers.base import (
    Checkout,
    NotificationHeaders,
    ProviderReport,
    ProviderUnavailable,
    SignatureError,
)
from hospital.billing.providers.stripe_webhooks import signature_header, verify_signature
from hospital.db import db

SIGNATURE_HEADER = "Sandbox-Signature"
OUTCOMES = ("success", "failure", "cancel")
_STATUS = {"open": "pending", "succeeded": "succeeded", "failed": "failed", "cancelled": "failed"}
# A claimed notification is not picked again for this long (a crashed job's claim lapses).
CLAIM_LEASE = timedelta(minutes=2)
MAX_DELIVERY_ATTEMPTS = 10

# (url, body, headers) -> (HTTP status, response text)
Transport = Callable[[str, bytes, dict[str, str]], tuple[int, str]]


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self,
        *,
        webhook_secrets: Sequence[str],
        checkout_base_url: str,
        max_delay_s: int = 5,
        duplicate_rate: float = 0.3,
        rng: random.Random | None = None,
    ) -> None:
        if not webhook_secrets:
            raise ValueError("the sandbox needs a webhook secret")
        self.webhook_secrets = list(webhook_secrets)
        self.checkout_base_url = checkout_base_url.rstrip("/")
        self.max_delay_s = max_delay_s
        self.duplicate_rate = duplicate_rate
        self._rng = rng or random.Random()

    # ---- the provider's side ------------------------------------------------------------

    def checkout_url(self, checkout: Checkout, *, now: datetime) -> str:
        existing = db.session.scalar(
            sa.select(SandboxTransaction).where(
                SandboxTransaction.out_trade_no == checkout.out_trade_no
            )
        )
        if existing is None:
            db.session.add(
                SandboxTransaction(
                    hospital_id=checkout.hospital_id,
                    out_trade_no=checkout.out_trade_no,
                    txn_id="SBX" + secrets.token_hex(12),
                    amount_fen=checkout.amount_fen,
                    currency=checkout.currency,
                    status="open",
                    notify_url=checkout.notify_url,
                    return_url=checkout.return_url,
                    created_at=now,
                )
            )
            db.session.flush()
        return f"{self.checkout_base_url}/billing/sandbox/checkout/{checkout.out_trade_no}"

    def transaction(self, out_trade_no: str) -> SandboxTransaction | None:
        return db.session.scalar(
            sa.select(SandboxTransaction).where(SandboxTransaction.out_trade_no == out_trade_no)
        )

    def decide(self, out_trade_no: str, outcome: str, *, now: datetime) -> str:
        """Record the payer's choice, queue the notification(s); return where to send the payer."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown sandbox outcome {outcome!r}")
        txn = self.transaction(out_trade_no)
        if txn is None:
            raise LookupError(out_trade_no)
        if txn.status == "open":
            txn.status = {"success": "succeeded", "failure": "failed", "cancel": "cancelled"}[
                outcome
            ]
            if txn.status != "cancelled":  # a payer who walks away sends nothing, as in reality
                deliveries = 2 if self._rng.random() < self.duplicate_rate else 1
                for _ in range(deliveries):
                    delay = self._rng.randint(0, max(self.max_delay_s, 0))
                    db.session.add(
                        SandboxDelivery(
                            hospital_id=txn.hospital_id,
                            out_trade_no=out_trade_no,
                            notify_url=txn.notify_url,
                            body=self._event_body(txn),
                            due_at=now + timedelta(seconds=delay),
                        )
                    )
            db.session.flush()
        return txn.return_url

    def _event_body(self, txn: SandboxTransaction) -> str:
        return json.dumps(
            {
                "id": "evt_" + secrets.token_hex(8),
                "type": "payment.succeeded" if txn.status == "succeeded" else "payment.failed",
                "out_trade_no": txn.out_trade_no,
                "txn_id": txn.txn_id,
                "amount_fen": txn.amount_fen,
                "currency": txn.currency,
            },
            separators=(",", ":"),
        )

    def signed_headers(self, body: bytes, *, now: datetime) -> dict[str, str]:
        """Sign at each delivery attempt, as real providers do, so late retries stay fresh."""
        header = signature_header(body, self.webhook_secrets[0], int(now.timestamp()))
        return {SIGNATURE_HEADER: header, "Content-Type": "application/json"}

    def deliver_due(self, transport: Transport, *, now: datetime, limit: int = 50) -> int:
        """Post due notifications; a non-"ok" answer is retried with backoff. Returns deliveries.

        The claim is committed before posting: the notify endpoint that answers is our own
        server, and on SQLite it could not write while this job held the write lock.
        """
        due = db.session.scalars(
            sa.select(SandboxDelivery)
            .where(SandboxDelivery.delivered_at.is_(None), SandboxDelivery.due_at <= now)
            .where(SandboxDelivery.attempts < MAX_DELIVERY_ATTEMPTS)
            .order_by(SandboxDelivery.due_at, SandboxDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for delivery in due:
            delivery.attempts += 1
            delivery.due_at = now + CLAIM_LEASE  # hidden from other deliverers while we post
            claimed.append((delivery.id, delivery.notify_url, delivery.body.encode()))
        db.session.commit()
        outcomes = []
        for delivery_id, url, body in claimed:
            try:
                status, text = transport(url, body, self.signed_headers(body, now=now))
            except Exception as exc:  # the endpoint being down is what retries are for
                status, text = 0, f"{type(exc).__name__}: {exc}"
            outcomes.append(
                (delivery_id, 200 <= status < 300 and text.strip() == "ok", f"{status} {text}")
            )
        delivered = 0
        for delivery_id, ok, answer in outcomes:
            delivery = db.session.get_one(SandboxDelivery, delivery_id)
            if ok:
                delivery.delivered_at = now
                delivered += 1
            else:
                delivery.last_error = answer[:300]
                delivery.due_at = now + timedelta(
                    seconds=min(30 * 2 ** (delivery.attempts - 1), 3600)
                )
        db.session.flush()
        return delivered

    # ---- the protocol, as our service sees it ------------------------------------------------

    def verify_notification(
        self, headers: NotificationHeaders, body: bytes, *, now: datetime
    ) -> ProviderReport:
        verify_signature(
            body, headers.get(SIGNATURE_HEADER), self.webhook_secrets, now=now.timestamp()
        )
        try:
            event = json.loads(body)
            status = {"payment.succeeded": "succeeded", "payment.failed": "failed"}[event["type"]]
            return ProviderReport(
                out_trade_no=str(event["out_trade_no"]),
                provider_txn_id=str(event["txn_id"]),
                status=status,
                amount_fen=int(event["amount_fen"]),
                currency=str(event["currency"]),
            )
        except (ValueError, KeyError, TypeError):
            raise SignatureError("signed, but not a sandbox event") from None

    def acknowledgement(self, accepted: bool) -> tuple[str, int]:
        return ("ok" if accepted else "not accepted"), 200

    def query(self, out_trade_no: str, *, now: datetime) -> ProviderReport | None:
        txn = self.transaction(out_trade_no)
        if txn is None:
            return None
        return ProviderReport(
            out_trade_no=txn.out_trade_no,
            provider_txn_id=txn.txn_id,
            status=_STATUS[txn.status],
            amount_fen=txn.amount_fen,
            currency=txn.currency,
        )

    def refund(
        self,
        *,
        out_trade_no: str,
        provider_txn_id: str,
        refund_no: str,
        amount_fen: int,
        now: datetime,
    ) -> str:
        txn = self.transaction(out_trade_no)
        if txn is None or txn.status != "succeeded" or txn.txn_id != provider_txn_id:
            raise ProviderUnavailable("the sandbox has no such successful payment")
        if txn.refunded_fen + amount_fen > txn.amount_fen:
            raise ProviderUnavailable("the sandbox refuses to refund more than was paid")
        txn.refunded_fen += amount_fen
        return "SBR-" + refund_no
