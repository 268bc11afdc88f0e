"""One-time sign-in codes: generation, keyed hashing, checks and send limits (no Flask, no DB)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

CODE_LENGTH = 6
_CODE = re.compile(rf"[0-9]{{{CODE_LENGTH}}}")
# What a code field accepts as well formed (is_well_formed after strip), for the API document.
CODE_PATTERN = rf"^\s*[0-9]{{{CODE_LENGTH}}}\s*$"


def generate_code() -> str:
    """Return a uniformly random 6-digit code (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def is_well_formed(code: str) -> bool:
    return bool(_CODE.fullmatch(code or ""))


def hash_code(code: str, *, key: str, phone: str, purpose: str) -> str:
    """HMAC-SHA256 of the code, bound to phone and purpose: a leaked table reveals no codes."""
    message = f"{purpose}:{phone}:{code}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def code_matches(stored_hash: str, code: str, *, key: str, phone: str, purpose: str) -> bool:
    """Compare in constant time, so response timing reveals nothing about the code."""
    candidate = hash_code(code, key=key, phone=phone, purpose=purpose)
    return hmac.compare_digest(stored_hash, candidate)


class CodeRefusal(enum.StrEnum):
    """Why a code cannot be used, whatever digits were typed."""

    MISSING = "missing"
    USED = "used"
    EXPIRED = "expired"
    LOCKED = "locked"


def refusal(
    *,
    expires_at: datetime,
    consumed_at: datetime | None,
    attempts: int,
    max_attempts: int,
    now: datetime,
) -> CodeRefusal | None:
    """Return why the code may no longer be tried, or None if it may."""
    if consumed_at is not None:
        return CodeRefusal.USED
    if attempts >= max_attempts:
        return CodeRefusal.LOCKED
    if now >= expires_at:
        return CodeRefusal.EXPIRED
    return None


@dataclass(frozen=True)
class SendLimit:
    resend_seconds: int
    per_hour: int


def seconds_until_next_send(sent_at: Iterable[datetime], *, limit: SendLimit, now: datetime) -> int:
    """Seconds to wait before another code may be sent to this phone (0: send now).

    `sent_at` holds the times of earlier sends; only the last hour matters.
    """
    window_start = now - timedelta(hours=1)
    recent = sorted(t for t in sent_at if t > window_start)
    waits = [0.0]
    if recent and limit.resend_seconds > 0:
        waits.append((recent[-1] + timedelta(seconds=limit.resend_seconds) - now).total_seconds())
    if len(recent) >= limit.per_hour:
        # The oldest send that must leave the window before the count drops below the limit.
        oldest = recent[len(recent) - limit.per_hour] if limit.per_hour > 0 else now
        waits.append((oldest + timedelta(hours=1) - now).total_seconds())
    return max(0, math.ceil(max(waits)))
