"""An account's family links: listing, getting, the family limit, changing and removing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.patients.grants import end_link, refuse_raise_by_holder
from hospital.patients.models import FamilyLink, Patient, Relationship
from hospital.patients.services.person import parse_relationship
from hospital.web.id_fields import MAX_ID

# Ids beyond a 32-bit integer cannot exist; refusing them early keeps PostgreSQL from erroring.


def family_limit() -> int:
    """How many family members (besides the own profile) one account may act for."""
    return int(current_app.config.get("FAMILY_LIMIT", 5))


def list_links(*, account: Account) -> list[FamilyLink]:
    """The account's links, its own profile first, each with its patient loaded."""
    return list(
        db.session.scalars(
            sa.select(FamilyLink)
            .where(FamilyLink.account_id == account.id)
            .options(sa.orm.joinedload(FamilyLink.patient))
            .order_by(
                sa.case((FamilyLink.relationship == Relationship.SELF, 0), else_=1),
                FamilyLink.id,
            )
        )
    )


def get_link(*, account: Account, link_id: int, action: str = "family.view") -> FamilyLink:
    """One of the account's own links; anything else is not found (and the attempt audited)."""
    link = (
        db.session.get(FamilyLink, link_id)
        if isinstance(link_id, int) and 0 < link_id <= MAX_ID
        else None
    )
    if link is not None and link.account_id == account.id:
        return link
    record(
        action=action,
        outcome="denied",
        actor=account,
        object_type="family_link",
        object_id=str(link_id),
        patient_id=link.patient_id if link is not None else None,
        hospital_id=account.hospital_id,
    )
    raise NotFound(
        _l("No family member with this id is linked to your account. Reload your list."),
        code=ErrorCode.LINK_NOT_FOUND,
    )


def lock_account(*, account: Account) -> None:
    """Serialise link changes of one account, so two requests cannot both pass the limit."""
    db.session.execute(sa.select(Account.id).where(Account.id == account.id).with_for_update())


def check_room_for(*, account: Account, relationship: Relationship) -> None:
    """Lock the account and refuse a second own profile or a link beyond the family limit."""
    lock_account(account=account)
    links = db.session.execute(
        sa.select(FamilyLink.relationship).where(FamilyLink.account_id == account.id)
    ).scalars()
    relationships = list(links)
    if relationship is Relationship.SELF:
        if Relationship.SELF in relationships:
            raise Conflict(
                _l("This account already has its own profile. Add others as family members."),
                code=ErrorCode.SELF_PROFILE_EXISTS,
            )
        return
    limit = family_limit()
    if sum(1 for r in relationships if r != Relationship.SELF) >= limit:
        raise Conflict(
            _l(
                "You already act for %(limit)s family members, the most allowed. "
                "Remove one before adding another.",
                limit=limit,
            ),
            code=ErrorCode.FAMILY_LIMIT_REACHED,
        )


def link_permissions(link: FamilyLink) -> dict[str, Any]:
    """The link's relationship and rights, as the audit log records them."""
    return {
        "relationship": link.relationship.value,
        "can_book": link.can_book,
        "can_pay": link.can_pay,
        "can_view_reports": link.can_view_reports,
    }


def new_link(
    *,
    account: Account,
    patient: Patient,
    relationship: Relationship,
    can_book: bool,
    can_pay: bool,
    can_view_reports: bool,
    created_by: Account,
    now: datetime,
) -> FamilyLink:
    """Add the link, flushed, with its patient loaded."""
    own = relationship is Relationship.SELF
    link = FamilyLink(
        hospital_id=patient.hospital_id,
        account_id=account.id,
        patient_id=patient.id,
        relationship=relationship,
        # The own profile always carries every permission.
        can_book=True if own else bool(can_book),
        can_pay=True if own else bool(can_pay),
        can_view_reports=True if own else bool(can_view_reports),
        created_at=now,
        created_by_account_id=created_by.id,
    )
    db.session.add(link)
    db.session.flush()
    link.patient = patient
    return link


def update_link(
    *,
    account: Account,
    link_id: int,
    relationship: str | None = None,
    can_book: bool | None = None,
    can_pay: bool | None = None,
    can_view_reports: bool | None = None,
    now: datetime,
) -> FamilyLink:
    """Change a link's relationship or lower its permissions; the own profile cannot change.

    Raising a permission is the patient's grant (see grants.py), except on a profile the holder
    created itself.
    """
    link = get_link(account=account, link_id=link_id, action="family.update")
    rel = parse_relationship(relationship) if relationship is not None else None
    if link.relationship is Relationship.SELF or rel is Relationship.SELF:
        raise InvalidInput(
            _l(
                "Your own profile always has every permission and cannot become a family "
                "member, nor a family member your own profile."
            ),
            code=ErrorCode.OWN_PROFILE_FIXED,
        )
    refuse_raise_by_holder(
        account,
        link,
        {"can_book": can_book, "can_pay": can_pay, "can_view_reports": can_view_reports},
    )
    before = link_permissions(link)
    if rel is not None:
        link.relationship = rel
    if can_book is not None:
        link.can_book = bool(can_book)
    if can_pay is not None:
        link.can_pay = bool(can_pay)
    if can_view_reports is not None:
        link.can_view_reports = bool(can_view_reports)
    after = link_permissions(link)
    if after != before:
        db.session.flush()
        record(
            action="family.update",
            actor=account,
            object_type="family_link",
            object_id=str(link.id),
            patient_id=link.patient_id,
            hospital_id=account.hospital_id,
            detail={"before": before, "after": after},
        )
    return link


def remove_link(*, account: Account, link_id: int, now: datetime) -> None:
    """Stop acting for a family member (the patient and their records stay)."""
    link = get_link(account=account, link_id=link_id, action="family.remove")
    if link.relationship is Relationship.SELF:
        raise Conflict(
            _l("Your own profile cannot be removed from your account."),
            code=ErrorCode.CANNOT_REMOVE_OWN_PROFILE,
        )
    end_link(actor=account, link=link, action="family.remove", detail=link_permissions(link))


def refuse_duplicate_link(*, account: Account, patient: Patient, message: Any = None) -> None:
    """Refuse to link a patient the account is already linked to."""
    linked = db.session.scalar(
        sa.select(FamilyLink.id).where(
            FamilyLink.account_id == account.id, FamilyLink.patient_id == patient.id
        )
    )
    if linked is not None:
        raise Conflict(
            message or _l("This patient is already linked to that account."),
            code=ErrorCode.DUPLICATE_FAMILY_MEMBER,
        )
