"""The one small protocol every payment provider adapter follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class SignatureError(Exception):
    """The message is not provably from the provider: refuse it and change nothing."""


class NotForUs(Exception):
    """Signed correctly, but addressed to another merchant (app or seller): ignore and log it."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with an error; try again later."""


@dataclass(frozen=True)
class Checkout:
    """What we ask a provider to collect. The amount always comes from our database."""

    hospital_id: int
    out_trade_no: str
    amount_fen: int
    currency: str
    subject: str
    notify_url: str
    return_url: str


@dataclass(frozen=True)
class ProviderReport:
    """A provider's verified statement about one payment (from a notification or a query)."""

    out_trade_no: str
    provider_txn_id: str
    status: str  # "succeeded" | "failed" | "pending"
    amount_fen: int | None
    currency: str | None = None


class NotificationHeaders(Protocol):
    """The request headers of a notification: a plain mapping or Werkzeug's case-blind Headers."""

    def get(self, key: str) -> str | None: ...


class PaymentProvider(Protocol):
    name: str

    def checkout_url(self, checkout: Checkout, *, now: datetime) -> str:
        """Where to send the payer (a full redirect: card data is never typed into our pages)."""
        ...

    def verify_notification(
        self, headers: NotificationHeaders, body: bytes, *, now: datetime
    ) -> ProviderReport:
        """Verify and read an asynchronous notification; raise SignatureError or NotForUs."""
        ...

    def acknowledgement(self, accepted: bool) -> tuple[str, int]:
        """The response body and status the provider expects (a refusal makes it retry)."""
        ...

    def query(self, out_trade_no: str, *, now: datetime) -> ProviderReport | None:
        """Ask the provider for a payment's state; None when it has never heard of it."""
        ...

    def refund(
        self,
        *,
        out_trade_no: str,
        provider_txn_id: str,
        refund_no: str,
        amount_fen: int,
        now: datetime,
    ) -> str:
        """Return money; the provider's refund id. refund_no makes a retried refund idempotent."""
        ...
