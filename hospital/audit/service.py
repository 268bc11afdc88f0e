"""Write audit entries. Denials and failures survive the rollback of the request that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context, request

from hospital.audit.models import AuditEntry, Outcome
from hospital.db import db, utcnow

_SURVIVORS = "audit_entries_surviving_rollback"
_REFUSAL_RECORDED = "hospital.audit.refusal_recorded"  # per request (g outlives it in tests)


def record(
    *,
    action: str,
    outcome: Outcome | str = Outcome.SUCCESS,
    actor: Any = None,
    device: Any = None,
    object_type: str = "",
    object_id: str = "",
    patient_id: int | None = None,
    hospital_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the current unit of work (denials are kept even if it rolls back)."""
    outcome = Outcome(outcome)
    values: dict[str, Any] = {
        "hospital_id": hospital_id
        if hospital_id is not None
        else getattr(actor or device, "hospital_id", None),
        "at": utcnow(),
        "actor_account_id": getattr(actor, "id", None),
        "actor_role": ",".join(sorted(r.value for r in actor.roles)) if actor is not None else "",
        "device_id": getattr(device, "id", None),
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "patient_id": patient_id,
        "outcome": outcome,
        "detail": detail or {},
    }
    if has_request_context():
        values["ip"] = request.remote_addr or ""
        values["request_id"] = getattr(g, "request_id", "")
    entry = AuditEntry(**values)
    db.session.add(entry)
    if outcome is not Outcome.SUCCESS and has_request_context():
        request.environ[_REFUSAL_RECORDED] = True
    if outcome is not Outcome.SUCCESS:
        db.session().info.setdefault(_SURVIVORS, []).append((entry, values))
    return entry


def replay_after_rollback() -> None:
    """Re-insert the denials and failures that a rollback took away, and commit them.

    Call it when the unit of work has ended, committed or rolled back: a handler may catch a
    refusal, roll back and still answer with a redirect, so the request's own commit does not
    hold the denial. An entry that was committed has an identity and is not written twice.
    """
    survivors = db.session().info.pop(_SURVIVORS, [])
    lost = [values for entry, values in survivors if not sa.inspect(entry).has_identity]
    if not lost:
        return
    for values in lost:
        db.session.add(AuditEntry(**values))
    db.session.commit()


REFUSALS = frozenset({401, 403, 404})


def record_unrecorded_refusal(status: int, *, actor: Any, device: Any) -> None:
    """Audit a refusal of an object route that no guard or service recorded, and commit it.

    Guards and the access rule audit their own denials with what they know; this catches every
    other 401/403/404 answered to a signed-in account or a device for a URL naming an object
    (an id or a token), so probing other people's objects always leaves a trace.
    """
    if status not in REFUSALS or not request.view_args or request.environ.get(_REFUSAL_RECORDED):
        return
    if actor is None and device is None:
        return
    record(
        action=f"endpoint:{request.endpoint}",
        outcome=Outcome.DENIED,
        actor=actor,
        device=device,
        object_type="url",
        object_id=request.path[:64],
        detail={"status": status, "method": request.method},
    )
    db.session.commit()
    forget_survivors()


def forget_survivors() -> None:
    db.session().info.pop(_SURVIVORS, None)


def record_staff_read(
    *,
    actor: Any,
    action: str,
    object_type: str,
    reads: Sequence[tuple[int | str, int | None]],
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit that a staff account was shown these patients' data: one entry per (object id, patient id).

    Patients reading their own or their family's data are not audited here; only staff reads are.
    `action` names what was read, for example "appointment.read" or "queue.console.read".
    """
    if actor is None or not actor.is_staff:
        return
    for object_id, patient_id in dict.fromkeys(reads):
        record(
            action=action,
            actor=actor,
            object_type=object_type,
            object_id=str(object_id),
            patient_id=patient_id,
            detail=detail,
        )
