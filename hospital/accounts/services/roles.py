"""The refusal, audited, of an account that lacks the role an operation needs."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden


def role_required(
    action: str, object_type: str, object_id: int, needs: str, *, actor: Account
) -> Forbidden:
    """Audit the refusal and return the error to raise."""
    record(
        action=action,
        outcome=Outcome.DENIED,
        actor=actor,
        object_type=object_type,
        object_id=str(object_id),
        detail={"needs": [needs]},
    )
    return Forbidden(
        _l("Your account does not have the role this needs."), code=ErrorCode.ROLE_REQUIRED
    )
