"""Money arithmetic in integer fen: amounts as provider strings, proportional refund splits."""

from __future__ import annotations

import re

_YUAN = re.compile(r"^(0|[1-9]\d{0,9})\.\d{2}$")


def fen_to_yuan(fen: int) -> str:
    """12345 -> "123.45": the two-decimal amount string providers expect."""
    if fen < 0:
        raise ValueError("amounts are never negative")
    return f"{fen // 100}.{fen % 100:02d}"


def yuan_to_fen(text: str) -> int:
    """ "123.45" -> 12345; refuse anything but a plain two-decimal amount (no "1e3", "12.5")."""
    if not isinstance(text, str) or not _YUAN.match(text):
        raise ValueError(f"not a two-decimal amount: {text!r}")
    whole, cents = text.split(".")
    return int(whole) * 100 + int(cents)


def split_refund(amount_fen: int, remaining: dict[str, int]) -> dict[str, int]:
    """Split a refund over sources in proportion to what each still holds.

    `remaining` maps a source to the fen it can still refund. The parts add up to amount_fen,
    none exceeds its source, and rounding leftovers go to the sources with the most left.
    """
    total = sum(remaining.values())
    if amount_fen <= 0:
        raise ValueError("a refund must be more than zero")
    if amount_fen > total:
        raise ValueError("a refund cannot exceed what is left to refund")
    parts = {k: amount_fen * v // total for k, v in remaining.items()} if total else {}
    leftover = amount_fen - sum(parts.values())
    for key in sorted(remaining, key=lambda k: (-(remaining[k] - parts[k]), k)):
        if leftover == 0:
            break
        room = remaining[key] - parts[key]
        step = min(room, leftover)
        parts[key] += step
        leftover -= step
    return {k: v for k, v in parts.items() if v > 0}


def policy_refund_fen(paid_fen: int, percent: int) -> int:
    """The refund for a cancellation after the cut-off: percent of what was paid, rounded down."""
    if not 0 <= percent <= 100:
        raise ValueError("a refund percentage lies between 0 and 100")
    return paid_fen * percent // 100
