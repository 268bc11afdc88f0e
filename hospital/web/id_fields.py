"""Row ids from outside: one bound, one URL converter and one schema field for every id.

Ids are 32-bit integer columns; a larger number reaching the database fails there (SQLite:
OverflowError, PostgreSQL: out of range) instead of answering 404 or 422.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map
from werkzeug.routing import ValidationError as ValidationError_

MAX_ID = 2**31 - 1


def is_id(value: object) -> bool:
    """True for an int a row id could have (bool is not an id)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def parse_id(text: str) -> int | None:
    """The id written in text (ASCII digits within the id range), or None."""
    if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


class IdConverter(IntegerConverter):
    """Flask's `int` converter, bounded to ids: `/x/<int:id>` with a 20-digit number is a 404."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)

    def to_python(self, value: str) -> Any:
        try:
            return super().to_python(value)
        except ValidationError_:
            # Not "try the next rule": a neighbour taking a token there would answer 405.
            raise NotFound() from None


def id_field(*, strict: bool = True, **kwargs: Any) -> fields.Int:
    """An id; strict (no "3" for 3) in JSON bodies, lenient in query strings (always text)."""
    return fields.Int(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _up_to(limit: int) -> str:
    """A regular expression for the numbers 1 to limit, written without leading zeros."""
    digits = str(limit)
    shorter = f"[1-9]\\d{{0,{len(digits) - 2}}}" if len(digits) > 1 else ""
    same_length = []
    for i, d in enumerate(digits):
        rest = len(digits) - i - 1
        low = "1" if i == 0 else "0"
        if int(d) > int(low):
            tail = f"\\d{{{rest}}}" if rest else ""
            same_length.append(f"{digits[:i]}[{low}-{int(d) - 1}]{tail}")
    same_length.append(digits)
    return "(?:" + "|".join(([shorter] if shorter else []) + same_length) + ")"


ID_TEXT = _up_to(MAX_ID)


def _each_an_id(error: str) -> Any:
    def check(value: str) -> None:
        # The pattern reports malformed text; this one only numbers out of range.
        parts = [p for p in value.split(",") if p.isascii() and p.isdigit()]
        if not all(0 < int(part) <= MAX_ID for part in parts):
            raise ValidationError(error)

    return check


def id_list_field(*, max_items: int, error: str, **kwargs: Any) -> fields.Str:
    """Comma-separated ids in a query string ("1,2,3"), kept as text, each within MAX_ID."""
    return fields.Str(
        validate=[
            validate.Regexp(rf"^{ID_TEXT}(,{ID_TEXT}){{0,{max_items - 1}}}$", error=error),
            _each_an_id(error),
        ],
        **kwargs,
    )
