"""The appointment QR that a kiosk scans: hospital and appointment ids with a keyed signature.

A patient's phone shows it; only a server with the key can make one, so a guessed or edited code
is refused. No name or identity number is in it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re

PREFIX = "HQA1"
_CODE = re.compile(rf"^{PREFIX}\.(\d{{1,12}})\.(\d{{1,12}})\.([0-9a-f]{{20}})$")


class CodeProblem(enum.StrEnum):
    UNKNOWN = "unknown"  # not one of our appointment codes at all
    FORGED = "forged"  # our shape, but the signature does not verify


class AppointmentCodeError(ValueError):
    def __init__(self, problem: CodeProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _signature(key: str, hospital_id: int, appointment_id: int) -> str:
    message = f"{PREFIX}:{hospital_id}:{appointment_id}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:20]


def appointment_code(key: str, hospital_id: int, appointment_id: int) -> str:
    """The text an appointment's QR carries."""
    return f"{PREFIX}.{hospital_id}.{appointment_id}.{_signature(key, hospital_id, appointment_id)}"


def read_appointment_code(key: str, text: str) -> tuple[int, int]:
    """Return (hospital_id, appointment_id) from a scanned code; raise AppointmentCodeError."""
    found = _CODE.match((text or "").strip())
    if not found:
        raise AppointmentCodeError(CodeProblem.UNKNOWN)
    hospital_id, appointment_id = int(found[1]), int(found[2])
    if not hmac.compare_digest(found[3], _signature(key, hospital_id, appointment_id)):
        raise AppointmentCodeError(CodeProblem.FORGED)
    return hospital_id, appointment_id
