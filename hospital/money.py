"""Amounts as people read them: one format on every page, slip, message and PDF."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency


def format_fen(fen: int) -> str:
    """12345 -> "¥123.45" in both languages (Babel's English would write "CN¥123.45")."""
    return format_currency(Decimal(fen) / 100, "CNY", locale="zh_CN")
