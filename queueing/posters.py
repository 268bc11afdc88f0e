"""The check-in poster at a service point's entrance: its code names the point, signed with a key.

A patient's phone scans the poster to say "I have arrived"; only a server with the key can make a
code, so a guessed or edited one is refused, and no poster names a patient.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "HQP1"
_CODE = re.compile(rf"^{PREFIX}\.(\d{{1,12}})\.(\d{{1,12}})\.([0-9a-f]{{16}})$")


def _signature(key: str, hospital_id: int, point_id: int) -> str:
    message = f"{PREFIX}:{hospital_id}:{point_id}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:16]


def poster_code(key: str, hospital_id: int, point_id: int) -> str:
    """The text a service point's check-in poster carries (in its QR and printed under it)."""
    return f"{PREFIX}.{hospital_id}.{point_id}.{_signature(key, hospital_id, point_id)}"


def read_poster_code(key: str, text: str) -> tuple[int, int] | None:
    """(hospital id, service point id) of a genuine poster code; None for anything else."""
    found = _CODE.match((text or "").strip()) if isinstance(text, str) else None
    if not found:
        return None
    hospital_id, point_id = int(found[1]), int(found[2])
    if not hmac.compare_digest(found[3], _signature(key, hospital_id, point_id)):
        return None
    return hospital_id, point_id
