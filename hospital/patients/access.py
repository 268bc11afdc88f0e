"""The one access rule: may this account do X for this patient?

Used by every module. Own profile and family links grant what the link allows; staff of the
patient's hospital are granted by role. Every denial is written to the audit log by the caller
through `require_patient_access`.
"""

from __future__ import annotations

import enum

import sqlalchemy as sa

from hospital.accounts.models import Account, Role
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.patients.models import FamilyLink, Patient


class Permission(enum.StrEnum):
    VIEW = "view"  # see the patient's profile and appointments
    BOOK = "book"
    PAY = "pay"
    VIEW_REPORTS = "view_reports"
    MANAGE = "manage"  # edit the profile or family links


STAFF_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.REGISTRAR: frozenset({Permission.VIEW, Permission.BOOK, Permission.MANAGE}),
    Role.NURSE: frozenset({Permission.VIEW}),
    Role.CLINICIAN: frozenset({Permission.VIEW, Permission.VIEW_REPORTS}),
    Role.CASHIER: frozenset({Permission.VIEW, Permission.PAY}),
    Role.LAB: frozenset({Permission.VIEW, Permission.VIEW_REPORTS}),
    Role.ADMIN: frozenset(Permission),
}


def link_grants(link: FamilyLink, permission: Permission) -> bool:
    if permission is Permission.VIEW:
        return True
    if permission is Permission.BOOK:
        return link.can_book
    if permission is Permission.PAY:
        return link.can_pay
    if permission is Permission.VIEW_REPORTS:
        return link.can_view_reports
    return link.relationship == "self" or permission is Permission.MANAGE


def staff_grants(account: Account, permission: Permission) -> bool:
    return any(permission in STAFF_GRANTS.get(role, frozenset()) for role in account.roles)


def can_act_for(account: Account, patient: Patient, permission: Permission) -> bool:
    # The link is read only when the answer depends on it.
    needs_link = (
        account.is_active
        and account.hospital_id == patient.hospital_id
        and not staff_grants(account, permission)
    )
    link = (
        db.session.scalar(
            sa.select(FamilyLink).where(
                FamilyLink.account_id == account.id, FamilyLink.patient_id == patient.id
            )
        )
        if needs_link
        else None
    )
    return _grants(account, patient, link, permission)


def _grants(
    account: Account, patient: Patient, link: FamilyLink | None, permission: Permission
) -> bool:
    """The rule, given the account's link to the patient (None: no link)."""
    if not account.is_active or account.hospital_id != patient.hospital_id:
        return False
    return staff_grants(account, permission) or (link is not None and link_grants(link, permission))


# The patient and the account's link to it in one round trip (a hold runs this in a rush).
_PATIENT_WITH_LINK = (
    sa.select(Patient, FamilyLink)
    .outerjoin(
        FamilyLink,
        sa.and_(
            FamilyLink.patient_id == Patient.id,
            FamilyLink.account_id == sa.bindparam("account_id"),
        ),
    )
    .where(Patient.id == sa.bindparam("patient_id"))
)
# The same, also locking the patient's and the account's rows until the commit (PostgreSQL;
# SQLite transactions are serial anyway): what a booking takes before counting its limits.
_PATIENT_WITH_LINK_LOCKED = _PATIENT_WITH_LINK.join(
    Account, Account.id == sa.bindparam("account_id")
).with_for_update(key_share=True, of=[Patient.__table__, Account.__table__])


def patients_acting_for(
    account: Account, permission: Permission = Permission.VIEW
) -> list[Patient]:
    """The patients this account reaches through its own profile and family links."""
    links = db.session.scalars(
        sa.select(FamilyLink)
        .where(FamilyLink.account_id == account.id)
        .options(sa.orm.joinedload(FamilyLink.patient))
        .order_by(FamilyLink.id)
    ).all()
    return [link.patient for link in links if link_grants(link, permission)]


def require_patient_access(
    account: Account,
    patient_id: int,
    permission: Permission,
    *,
    action: str,
    lock_rows: bool = False,
) -> Patient:
    """Return the patient, or raise NotFound (never revealing whether it exists) and audit the denial.

    With lock_rows, the patient's and the account's rows stay locked (FOR NO KEY UPDATE) until the
    transaction ends, read in the same round trip, so that checks counted next cannot be raced.
    """
    from hospital.audit.service import record

    statement = _PATIENT_WITH_LINK_LOCKED if lock_rows else _PATIENT_WITH_LINK
    found = (
        db.session.execute(statement, {"patient_id": patient_id, "account_id": account.id}).first()
        if isinstance(patient_id, int)
        else None
    )
    patient, link = found if found is not None else (None, None)
    if patient is not None and _grants(account, patient, link, permission):
        return patient
    record(
        action=action,
        outcome="denied",
        actor=account,
        object_type="patient",
        object_id=str(patient_id),
        patient_id=patient.id if patient is not None else None,
        hospital_id=account.hospital_id,
        detail={"permission": permission.value},
    )
    raise NotFound(
        "No patient with this id is linked to your account.", code=ErrorCode.PATIENT_NOT_FOUND
    )


def patients_for_phone_account(
    hospital_id: int, phone: str, permission: Permission = Permission.VIEW
) -> list[Patient]:
    """The patients the account of this phone at the hospital may act for with permission."""
    rows = db.session.execute(
        sa.select(Account, FamilyLink)
        .join(FamilyLink, FamilyLink.account_id == Account.id)
        .where(Account.hospital_id == hospital_id, Account.phone == phone)
        .options(sa.orm.joinedload(FamilyLink.patient))
        .order_by(FamilyLink.id)
    ).all()
    found = {
        link.patient.id: link.patient
        for account, link in rows
        if _grants(account, link.patient, link, permission)
    }
    return sorted(found.values(), key=lambda p: p.id)
