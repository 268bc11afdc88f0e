"""REST endpoints for the family members an account acts for (/api/v1/family)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hospital.accounts.guards import require_roles, require_signed_in, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.patients import grants
from hospital.patients.grants import Grant
from hospital.patients.models import FamilyLink
from hospital.patients.schemas import (
    ConsentCodeArgs,
    ConsentCodeOut,
    FamilyLinkOut,
    FamilyLinkUpdateArgs,
    FamilyMemberArgs,
    GrantOut,
    RightsArgs,
    StaffFamilyLinkOut,
    StaffLinkArgs,
)
from hospital.patients.services import adding, desk, links

blp = Blueprint(
    __name__.split(".")[1],
    __name__,
    description="Your own patient profile and the family members you act for.",
)


@blp.route("/", methods=["GET"])
@require_signed_in
@blp.response(200, FamilyLinkOut(many=True))
def list_family() -> list[FamilyLink]:
    """List your own profile (first) and your family members."""
    return links.list_links(account=signed_in_account())


@blp.route("/", methods=["POST"])
@require_signed_in
@blp.arguments(FamilyMemberArgs)
@blp.response(201, FamilyLinkOut)
def add_family_member(args: dict[str, Any]) -> FamilyLink:
    """Register a patient you act for: yourself (relationship "self") or a family member."""
    return adding.add_patient(account=signed_in_account(), **args, now=utcnow())


@blp.route("/consent-code", methods=["POST"])
@require_signed_in
@blp.arguments(ConsentCodeArgs)
@blp.response(200, ConsentCodeOut)
def request_consent_code(args: dict[str, Any]) -> dict[str, Any]:
    """Text a code to the phone of a person the hospital already knows; add them with it."""
    args.pop("name", None)
    masked, wait = adding.request_consent_code(account=signed_in_account(), **args, now=utcnow())
    return {"phone_masked": masked, "retry_after": wait}


@blp.route("/granted", methods=["GET"])
@require_signed_in
@blp.response(200, GrantOut(many=True))
def list_grants() -> list[Grant]:
    """Who can act for me: every other account linked to your own record."""
    return grants.grants_to_others(account=signed_in_account())


@blp.route("/granted/<int:link_id>", methods=["PATCH"])
@require_signed_in
@blp.arguments(RightsArgs)
@blp.response(200, GrantOut)
def change_grant(args: dict[str, Any], link_id: int) -> Grant:
    """Raise or lower what another account may do for you."""
    return grants.change_grant(account=signed_in_account(), link_id=link_id, **args, now=utcnow())


@blp.route("/granted/<int:link_id>", methods=["DELETE"])
@require_signed_in
@blp.response(204)
def revoke_grant(link_id: int) -> None:
    """Stop another account acting for you."""
    grants.revoke_grant(account=signed_in_account(), link_id=link_id, now=utcnow())


@blp.route("/<int:link_id>", methods=["GET"])
@require_signed_in
@blp.response(200, FamilyLinkOut)
def get_family_member(link_id: int) -> FamilyLink:
    """Show one family member."""
    return links.get_link(account=signed_in_account(), link_id=link_id)


@blp.route("/<int:link_id>", methods=["PATCH"])
@require_signed_in
@blp.arguments(FamilyLinkUpdateArgs)
@blp.response(200, FamilyLinkOut)
def update_family_member(args: dict[str, Any], link_id: int) -> FamilyLink:
    """Change the relationship, or lower what you may do for a family member.

    Raising a right answers 403 rights_granted_by_patient, unless you created this profile
    yourself: the patient or the registration desk grants rights.
    """
    return links.update_link(account=signed_in_account(), link_id=link_id, **args, now=utcnow())


@blp.route("/<int:link_id>", methods=["DELETE"])
@require_signed_in
@blp.response(204)
def remove_family_member(link_id: int) -> None:
    """Stop acting for a family member (their records stay at the hospital)."""
    links.remove_link(account=signed_in_account(), link_id=link_id, now=utcnow())


@blp.route("/staff-links", methods=["POST"])
@require_roles(Role.REGISTRAR, Role.ADMIN)
@blp.arguments(StaffLinkArgs)
@blp.response(201, StaffFamilyLinkOut)
def link_existing_patient(args: dict[str, Any]) -> FamilyLink:
    """Registration desk: link a patient already registered here to an account."""
    permissions = args.pop("permissions")
    return desk.link_existing_patient(
        staff=signed_in_account(), **args, **permissions, now=utcnow()
    )


@blp.route("/staff-links/<int:link_id>", methods=["PATCH"])
@require_roles(Role.REGISTRAR, Role.ADMIN)
@blp.arguments(RightsArgs)
@blp.response(200, StaffFamilyLinkOut)
def staff_change_rights(args: dict[str, Any], link_id: int) -> FamilyLink:
    """Registration desk: change what an account may do for a patient (after checking ID)."""
    return grants.staff_change_rights(
        staff=signed_in_account(), link_id=link_id, **args, now=utcnow()
    )
