"""Results as the intake reads them, whichever way they came in; and abnormal flags from ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

# The flags laboratories send (HL7 table 0078, FHIR v3 ObservationInterpretation).
FLAG_CODES = {
    "N": "normal",
    "L": "low",
    "H": "high",
    "LL": "critical_low",
    "HH": "critical_high",
    "A": "abnormal",
    "AA": "abnormal",
    "<": "low",
    ">": "high",
}


@dataclass
class ResultItem:
    name: str
    value: str
    code: str = ""
    unit: str = ""
    reference_range: str = ""
    flag: str | None = None  # an AbnormalFlag value, or None when it cannot be judged


@dataclass
class ResultDocument:
    content_type: str
    data: bytes


@dataclass
class IncomingReport:
    medical_record_number: str
    test_code: str
    test_name: str = ""
    order_reference: str = ""
    observed_at: datetime | None = None
    signed_by: str = ""
    conclusion: str = ""
    items: list[ResultItem] = field(default_factory=list)
    document: ResultDocument | None = None


_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|–|~|to)\s*(-?\d+(?:\.\d+)?)\s*$")
_BOUND = re.compile(r"^\s*(<=|>=|<|>|≤|≥)\s*(-?\d+(?:\.\d+)?)\s*$")


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None


def flag_from_range(value: str, reference_range: str) -> str | None:
    """Judge a numeric value against a range like "3.5-5.5", "<5" or ">=1.0"; None if unknowable."""
    number = _number(value)
    if number is None or not reference_range:
        return None
    match = _RANGE.match(reference_range)
    if match:
        low, high = Decimal(match.group(1)), Decimal(match.group(2))
        if number < low:
            return "low"
        if number > high:
            return "high"
        return "normal"
    match = _BOUND.match(reference_range)
    if match:
        op, bound = match.group(1), Decimal(match.group(2))
        inside = {
            "<": number < bound,
            "<=": number <= bound,
            "≤": number <= bound,
            ">": number > bound,
            ">=": number >= bound,
            "≥": number >= bound,
        }[op]
        if inside:
            return "normal"
        return "high" if op in ("<", "<=", "≤") else "low"
    return None


def flag_from_code(code: str) -> str | None:
    """Map a laboratory's abnormal-flag code (H, L, HH, LL, A, N) to our flag; None if empty."""
    code = code.strip().upper()
    if not code:
        return None
    if code not in FLAG_CODES:
        raise ValueError(f"unknown abnormal flag {code!r}; use one of N, L, H, LL, HH, A")
    return FLAG_CODES[code]
