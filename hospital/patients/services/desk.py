"""The registration desk links a patient registered here to an account, after checking ID."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from hospital import events
from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, NotFound
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.grants import LINK_MANAGERS
from hospital.patients.models import FamilyLink
from hospital.patients.services.links import (
    MAX_ID,
    check_room_for,
    link_permissions,
    lock_account,
    new_link,
    refuse_duplicate_link,
)
from hospital.patients.services.person import parse_relationship


def link_existing_patient(
    *,
    staff: Account,
    account_id: int,
    patient_id: int,
    relationship: str,
    can_book: bool = True,
    can_pay: bool = True,
    can_view_reports: bool = True,
    now: datetime,
) -> FamilyLink:
    """Registration desk: link a patient already registered here to an account, after checking ID."""
    if not staff.has_role(*LINK_MANAGERS):
        record(
            action="family.staff_link",
            outcome="denied",
            actor=staff,
            object_type="patient",
            object_id=str(patient_id),
            detail={"needs": [r.value for r in LINK_MANAGERS]},
        )
        raise Forbidden(
            _l("Only the registration desk or an administrator can link patients."),
            code=ErrorCode.ROLE_REQUIRED,
        )
    rel = parse_relationship(relationship)
    target = (
        db.session.get(Account, account_id)
        if isinstance(account_id, int) and 0 < account_id <= MAX_ID
        else None
    )
    if target is None or target.hospital_id != staff.hospital_id:
        raise NotFound(
            _l("No account with this id exists at this hospital. Check the account id."),
            code=ErrorCode.ACCOUNT_NOT_FOUND,
            details={"account_id": [_l("No such account.")]},
        )
    if not 0 < patient_id <= MAX_ID:
        patient_id = 0
    patient = require_patient_access(
        staff, patient_id, Permission.MANAGE, action="family.staff_link"
    )
    lock_account(account=target)
    refuse_duplicate_link(account=target, patient=patient)
    check_room_for(account=target, relationship=rel)
    link = new_link(
        account=target,
        patient=patient,
        relationship=rel,
        can_book=can_book,
        can_pay=can_pay,
        can_view_reports=can_view_reports,
        created_by=staff,
        now=now,
    )
    record(
        action="family.staff_link",
        actor=staff,
        object_type="family_link",
        object_id=str(link.id),
        patient_id=patient.id,
        hospital_id=staff.hospital_id,
        detail={"account_id": target.id, **link_permissions(link)},
    )
    events.family_member_added.send(patient_id=patient.id, account_id=target.id, now=now)
    return link
