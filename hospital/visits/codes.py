"""The visit code's text: a prefix and 120 random bits, in QR alphanumeric characters. Pure."""

from __future__ import annotations

import base64
import re
import secrets

PREFIX = "V-"
_CODE = re.compile(r"^V-[A-Z2-7]{24}$")


def new_code() -> str:
    """A fresh, unguessable visit code (uppercase base32: a dense QR in alphanumeric mode)."""
    return PREFIX + base64.b32encode(secrets.token_bytes(15)).decode("ascii")


def normalize(text: str) -> str:
    """The code as scanned or typed: spaces dropped, upper case."""
    return re.sub(r"\s", "", text or "").upper()


def looks_like_visit_code(text: str) -> bool:
    """True when the text has the shape of a visit code (stations try it before older codes)."""
    return normalize(text).startswith(PREFIX)


def well_formed(text: str) -> bool:
    return bool(_CODE.match(normalize(text)))
