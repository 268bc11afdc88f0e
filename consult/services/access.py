"""Who may read and write a consultation: the patient's accounts with the booking right, and its clinician."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from consult.models import Consultation
from consult.services.offers import clinician_of_account
from hospital.accounts.models import Account
from hospital.audit.service import record, record_staff_read
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.patients.access import Permission, link_grants
from hospital.patients.models import FamilyLink


def linked_with(account: Account, patient_id: int, permission: Permission) -> bool:
    """True when the account's own profile or family link to the patient grants the permission."""
    if not account.is_active:
        return False
    link = db.session.scalar(
        sa.select(FamilyLink).where(
            FamilyLink.account_id == account.id, FamilyLink.patient_id == patient_id
        )
    )
    return link is not None and link_grants(link, permission)


def _not_found() -> NotFound:
    return NotFound(_l("No consultation with this number."), code=ErrorCode.CONSULT_NOT_FOUND)


def _refuse(
    consultation_id: int, found: Consultation | None, action: str, *, actor: Account
) -> None:
    record(
        action=action,
        outcome="denied",
        actor=actor,
        object_type="consultation",
        object_id=str(consultation_id),
        patient_id=found.patient_id if found is not None else None,
        hospital_id=actor.hospital_id,
    )


def for_patient_side(
    consultation_id: int,
    *,
    actor: Account,
    action: str,
    permission: Permission = Permission.BOOK,
    lock: bool = False,
) -> Consultation:
    """The consultation, for an account acting for its patient; else NotFound, audited."""
    statement = sa.select(Consultation).where(Consultation.id == consultation_id)
    if lock:
        statement = statement.with_for_update()
    found = db.session.scalar(statement)
    if (
        found is not None
        and found.hospital_id == actor.hospital_id
        and linked_with(actor, found.patient_id, permission)
    ):
        return found
    _refuse(consultation_id, found, action, actor=actor)
    raise _not_found()


def for_clinician(
    consultation_id: int, *, actor: Account, action: str, lock: bool = False
) -> Consultation:
    """The consultation, for the clinician it was asked of; else NotFound, audited."""
    statement = sa.select(Consultation).where(Consultation.id == consultation_id)
    if lock:
        statement = statement.with_for_update()
    found = db.session.scalar(statement)
    clinician = clinician_of_account(actor)
    if found is not None and clinician is not None and found.clinician_id == clinician.id:
        return found
    _refuse(consultation_id, found, action, actor=actor)
    raise _not_found()


def for_reader(consultation_id: int, *, actor: Account) -> tuple[Consultation, bool]:
    """The consultation for its patient's accounts or its clinician (whose read is audited).

    Returns the consultation and whether the reader is its clinician.
    """
    found = db.session.get(Consultation, consultation_id)
    if found is not None and found.hospital_id == actor.hospital_id:
        if linked_with(actor, found.patient_id, Permission.BOOK):
            return found, False
        clinician = clinician_of_account(actor)
        if clinician is not None and found.clinician_id == clinician.id:
            record_staff_read(
                actor=actor,
                action="consult.read",
                object_type="consultation",
                reads=[(found.id, found.patient_id)],
            )
            return found, True
    _refuse(consultation_id, found, "consult.read", actor=actor)
    raise _not_found()
