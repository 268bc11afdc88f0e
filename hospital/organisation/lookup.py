"""Which hospital a request is for."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g

from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.organisation.models import Hospital


def current_hospital() -> Hospital:
    """The signed-in account's hospital, else HOSPITAL_CODE's, else the only (first) one."""
    if g.get("hospital") is not None:
        return g.hospital
    from hospital.accounts.guards import current_account, current_device

    principal = current_account() or current_device()
    if principal is not None:
        hospital = db.session.get(Hospital, principal.hospital_id)
    elif current_app.config.get("HOSPITAL_CODE"):
        hospital = db.session.scalar(
            sa.select(Hospital).where(Hospital.code == current_app.config["HOSPITAL_CODE"])
        )
    else:
        hospital = db.session.scalar(sa.select(Hospital).order_by(Hospital.id).limit(1))
    if hospital is None:
        raise NotFound(
            "No hospital is set up yet. Run `hospital seed-demo` or create one.",
            code=ErrorCode.NO_HOSPITAL,
        )
    g.hospital = hospital
    return hospital
