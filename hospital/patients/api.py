"""REST endpoints for the family members an account acts for (/api/v1/family)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hospital.accounts.guards import require_roles, require_signed_in, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.patients import service
from hospital.patients.models import FamilyLink
from hospital.patients.schemas import (
    FamilyLinkOut,
    FamilyLinkUpdateArgs,
    FamilyMemberArgs,
    StaffFamilyLinkOut,
    StaffLinkArgs,
)

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
    return service.list_links(signed_in_account())


@blp.route("/", methods=["POST"])
@require_signed_in
@blp.arguments(FamilyMemberArgs)
@blp.response(201, FamilyLinkOut)
def add_family_member(args: dict[str, Any]) -> FamilyLink:
    """Register a patient you act for: yourself (relationship "self") or a family member."""
    return service.add_patient(signed_in_account(), **args, now=utcnow())


@blp.route("/<int:link_id>", methods=["GET"])
@require_signed_in
@blp.response(200, FamilyLinkOut)
def get_family_member(link_id: int) -> FamilyLink:
    """Show one family member."""
    return service.get_link(signed_in_account(), link_id)


@blp.route("/<int:link_id>", methods=["PATCH"])
@require_signed_in
@blp.arguments(FamilyLinkUpdateArgs)
@blp.response(200, FamilyLinkOut)
def update_family_member(args: dict[str, Any], link_id: int) -> FamilyLink:
    """Change the relationship or what you may do for a family member."""
    return service.update_link(signed_in_account(), link_id, **args, now=utcnow())


@blp.route("/<int:link_id>", methods=["DELETE"])
@require_signed_in
@blp.response(204)
def remove_family_member(link_id: int) -> None:
    """Stop acting for a family member (their records stay at the hospital)."""
    service.remove_link(signed_in_account(), link_id, now=utcnow())


@blp.route("/staff-links", methods=["POST"])
@require_roles(Role.REGISTRAR, Role.ADMIN)
@blp.arguments(StaffLinkArgs)
@blp.response(201, StaffFamilyLinkOut)
def link_existing_patient(args: dict[str, Any]) -> FamilyLink:
    """Registration desk: link a patient already registered here to an account."""
    permissions = args.pop("permissions")
    return service.link_existing_patient(signed_in_account(), **args, **permissions, now=utcnow())
