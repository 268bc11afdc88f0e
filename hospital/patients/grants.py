"""The rights on a family link are the patient's grant to the holder, not the holder's setting.

The holder may lower them. They are raised by the patient (page "who can act for me"), by staff
at the registration desk, or by the holder for a profile it created itself that has no account
and no earlier record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Role
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, InvalidInput, NotFound
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.models import FamilyLink, Relationship
from hospital.web.id_fields import MAX_ID

RIGHTS = ("can_book", "can_pay", "can_view_reports")
LINK_MANAGERS = (Role.REGISTRAR, Role.ADMIN)

RIGHTS_FROM_PATIENT = _l(
    "Only the person themselves (on their page “Who can act for me”) or the registration desk "
    "can give you more rights for them. Here you can only take rights away."
)


def rights(link: FamilyLink) -> dict[str, bool]:
    return {name: bool(getattr(link, name)) for name in RIGHTS}


def raised(link: FamilyLink, changes: dict[str, Any]) -> list[str]:
    """The rights that changes would turn on for link."""
    return [name for name in RIGHTS if changes.get(name) and not getattr(link, name)]


def holder_may_raise(link: FamilyLink) -> bool:
    """True only for a profile the holder created itself: a new record with no account of its own."""
    holder = link.account_id
    if link.created_by_account_id != holder or link.patient.created_by_account_id != holder:
        return False
    own_account = db.session.scalar(
        sa.select(FamilyLink.id)
        .where(
            FamilyLink.patient_id == link.patient_id,
            FamilyLink.relationship == Relationship.SELF,
            FamilyLink.account_id != holder,
        )
        .limit(1)
    )
    return own_account is None


def refuse_raise_by_holder(account: Account, link: FamilyLink, changes: dict[str, Any]) -> None:
    """Raise Forbidden when the holder tries to give itself rights the patient did not grant."""
    raising = raised(link, changes)
    if not raising or holder_may_raise(link):
        return
    record(
        action="family.update",
        outcome=Outcome.DENIED,
        actor=account,
        object_type="family_link",
        object_id=str(link.id),
        patient_id=link.patient_id,
        hospital_id=account.hospital_id,
        detail={"reason": "rights_granted_by_patient", "raising": raising},
    )
    raise Forbidden(
        RIGHTS_FROM_PATIENT,
        code=ErrorCode.RIGHTS_GRANTED_BY_PATIENT,
        details={name: [RIGHTS_FROM_PATIENT] for name in raising},
    )


def _apply(link: FamilyLink, changes: dict[str, Any]) -> tuple[dict[str, bool], dict[str, bool]]:
    before = rights(link)
    for name in RIGHTS:
        if changes.get(name) is not None:
            setattr(link, name, bool(changes[name]))
    return before, rights(link)


# ---- the patient: who can act for me ----------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A link from another account to the patient, with the account that holds it."""

    link: FamilyLink
    holder: Account


def _own_patient_ids(account: Account) -> sa.Select[Any]:
    return sa.select(FamilyLink.patient_id).where(
        FamilyLink.account_id == account.id, FamilyLink.relationship == Relationship.SELF
    )


def _grants_query(account: Account) -> sa.Select[Any]:
    return (
        sa.select(FamilyLink, Account)
        .join(Account, Account.id == FamilyLink.account_id)
        .where(
            FamilyLink.patient_id.in_(_own_patient_ids(account)),
            FamilyLink.account_id != account.id,
            FamilyLink.relationship != Relationship.SELF,
        )
        .options(sa.orm.joinedload(FamilyLink.patient))
    )


def grants_to_others(*, account: Account) -> list[Grant]:
    """Every link from another account to this account's own patient record, oldest first."""
    rows = db.session.execute(
        _grants_query(account).order_by(FamilyLink.created_at, FamilyLink.id)
    ).all()
    return [Grant(link, holder) for link, holder in rows]


def get_grant(*, account: Account, link_id: int, action: str = "family.grant_view") -> Grant:
    """One link to this account's own record; anything else is not found (and audited)."""
    row = (
        db.session.execute(_grants_query(account).where(FamilyLink.id == link_id)).first()
        if isinstance(link_id, int) and 0 < link_id <= MAX_ID
        else None
    )
    if row is not None:
        return Grant(row[0], row[1])
    record(
        action=action,
        outcome=Outcome.DENIED,
        actor=account,
        object_type="family_link",
        object_id=str(link_id),
        hospital_id=account.hospital_id,
    )
    raise NotFound(
        _l("Nobody acts for you through this link. Reload the list."), code=ErrorCode.LINK_NOT_FOUND
    )


def change_grant(
    *,
    account: Account,
    link_id: int,
    can_book: bool | None = None,
    can_pay: bool | None = None,
    can_view_reports: bool | None = None,
    now: datetime,
) -> Grant:
    """The patient raises or lowers what another account may do for them."""
    grant = get_grant(account=account, link_id=link_id, action="family.grant_update")
    changes = {"can_book": can_book, "can_pay": can_pay, "can_view_reports": can_view_reports}
    before, after = _apply(grant.link, changes)
    if before != after:
        db.session.flush()
        record(
            action="family.grant_update",
            actor=account,
            object_type="family_link",
            object_id=str(grant.link.id),
            patient_id=grant.link.patient_id,
            hospital_id=account.hospital_id,
            detail={"holder_account_id": grant.holder.id, "before": before, "after": after},
        )
    return grant


def revoke_grant(*, account: Account, link_id: int, now: datetime) -> None:
    """The patient ends another account's link to them."""
    grant = get_grant(account=account, link_id=link_id, action="family.grant_revoke")
    detail = {
        "holder_account_id": grant.holder.id,
        "relationship": grant.link.relationship.value,
        **rights(grant.link),
    }
    end_link(actor=account, link=grant.link, action="family.grant_revoke", detail=detail)


def end_link(*, actor: Account, link: FamilyLink, action: str, detail: dict[str, Any]) -> None:
    """Delete a family link (the patient and their records stay) and audit who ended it."""
    link_id, patient_id = link.id, link.patient_id
    db.session.delete(link)
    db.session.flush()
    record(
        action=action,
        actor=actor,
        object_type="family_link",
        object_id=str(link_id),
        patient_id=patient_id,
        hospital_id=actor.hospital_id,
        detail=detail,
    )


# ---- staff at the registration desk --------------------------------------------------------


def staff_change_rights(
    *,
    staff: Account,
    link_id: int,
    can_book: bool | None = None,
    can_pay: bool | None = None,
    can_view_reports: bool | None = None,
    now: datetime,
) -> FamilyLink:
    """Registration desk: change a link's rights after checking the patient's identity document."""
    if not staff.has_role(*LINK_MANAGERS):
        record(
            action="family.staff_update",
            outcome=Outcome.DENIED,
            actor=staff,
            object_type="family_link",
            object_id=str(link_id),
            detail={"needs": [r.value for r in LINK_MANAGERS]},
        )
        raise Forbidden(
            _l("Only the registration desk or an administrator can change family links."),
            code=ErrorCode.ROLE_REQUIRED,
        )
    link = (
        db.session.get(FamilyLink, link_id)
        if isinstance(link_id, int) and 0 < link_id <= MAX_ID
        else None
    )
    # The patient's hospital and the staff role are checked (and a refusal audited) in one place.
    require_patient_access(
        staff,
        link.patient_id if link is not None else 0,
        Permission.MANAGE,
        action="family.staff_update",
    )
    assert link is not None
    if link.relationship is Relationship.SELF:
        raise InvalidInput(
            _l("A patient's own profile always has every permission."),
            code=ErrorCode.OWN_PROFILE_FIXED,
        )
    changes = {"can_book": can_book, "can_pay": can_pay, "can_view_reports": can_view_reports}
    before, after = _apply(link, changes)
    db.session.flush()
    record(
        action="family.staff_update",
        actor=staff,
        object_type="family_link",
        object_id=str(link.id),
        patient_id=link.patient_id,
        hospital_id=staff.hospital_id,
        detail={"account_id": link.account_id, "before": before, "after": after},
    )
    return link
