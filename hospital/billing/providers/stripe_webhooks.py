"""Stripe-style webhook signatures: `t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.

Several secrets are accepted at once so a secret can be rotated without losing messages;
timestamps outside the tolerance are refused: older than 300 s (replays), or more than 60 s
ahead of our clock (a provider's clock a few seconds ahead of ours must not lose payments).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from hospital.billing.providers.base import SignatureError

TOLERANCE_S = 300
CLOCK_SKEW_S = 60


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The header value a sender attaches to payload."""
    return f"t={timestamp},v1={_digest(payload, secret, timestamp)}"


def _digest(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> int:
    """Return the signed timestamp, or raise SignatureError."""
    if not header:
        raise SignatureError("missing signature header")
    if not secrets:
        raise SignatureError("no webhook secret configured")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("malformed timestamp") from None
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    if timestamp > now + CLOCK_SKEW_S:
        raise SignatureError("timestamp is in the future")
    if now - timestamp > tolerance_s:
        raise SignatureError("timestamp outside the tolerance")
    for secret in secrets:
        expected = _digest(payload, secret, timestamp)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return timestamp
    raise SignatureError("no signature matches")
