"""The id field the API schemas share: a row id, refused outside the database's integer range."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

# Ids are 32-bit integer columns; a larger number would fail in PostgreSQL instead of a 4xx.
MAX_ID = 2**31 - 1


def id_field(*, strict: bool = True, **kwargs: Any) -> fields.Int:
    """An id; strict (no "3" for 3) in JSON bodies, lenient in query strings (always text)."""
    return fields.Int(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)
