"""The code on a kiosk's desk slip: a walk-in without a phone takes it to the registration desk.

The code names the hospital, the department's walk-in queue (0 when none is open) and the minute
the slip was printed, signed with a key, so the desk's scanner finds the queue at once and a
guessed, edited or old code is refused. It names no patient.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PREFIX = "HDS1"
_CODE = re.compile(rf"^{PREFIX}\.(\d{{1,12}})\.(\d{{1,12}})\.(\d{{1,12}})\.([0-9a-f]{{16}})$")
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DeskSlipClaim:
    hospital_id: int
    service_point_id: int  # 0: no walk-in queue was open when the slip was printed
    printed_at: datetime  # UTC, to the minute


def _signature(key: str, hospital_id: int, point_id: int, minute: int) -> str:
    message = f"{PREFIX}:{hospital_id}:{point_id}:{minute}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:16]


def desk_slip_code(key: str, hospital_id: int, point_id: int | None, printed_at: datetime) -> str:
    """The text a desk slip carries in its QR code and prints beneath it."""
    minute = int((printed_at - _EPOCH) // timedelta(minutes=1))
    point = point_id or 0
    return f"{PREFIX}.{hospital_id}.{point}.{minute}.{_signature(key, hospital_id, point, minute)}"


def looks_like_desk_slip_code(text: str) -> bool:
    """True when the text has the shape of a desk slip code (genuine or not)."""
    return isinstance(text, str) and text.strip().upper().startswith(PREFIX + ".")


def read_desk_slip_code(key: str, text: str) -> DeskSlipClaim | None:
    """What a genuine desk slip code names; None for anything else."""
    if not looks_like_desk_slip_code(text):
        return None
    # A scanner typing with caps lock on sends the hex signature in capitals.
    found = _CODE.match(f"{PREFIX}.{text.strip().partition('.')[2].lower()}")
    if not found:
        return None
    hospital_id, point_id, minute = int(found[1]), int(found[2]), int(found[3])
    if not hmac.compare_digest(found[4], _signature(key, hospital_id, point_id, minute)):
        return None
    return DeskSlipClaim(hospital_id, point_id, _EPOCH + timedelta(minutes=minute))
