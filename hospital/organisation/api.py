"""REST endpoints for the hospital, departments, clinicians and service points (/api/v1/organisation).

Reading is public (no sign-in); changing needs the admin role.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from hospital.accounts.guards import public, require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.organisation import service
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import (
    Clinician,
    Department,
    Hospital,
    ServicePoint,
    ServicePointKind,
)
from hospital.organisation.schemas import (
    ClinicianCreateArgs,
    ClinicianOut,
    ClinicianQueryArgs,
    ClinicianUpdateArgs,
    DepartmentCreateArgs,
    DepartmentOut,
    DepartmentQueryArgs,
    DepartmentUpdateArgs,
    HospitalOut,
    ServicePointCreateArgs,
    ServicePointOut,
    ServicePointQueryArgs,
    ServicePointUpdateArgs,
)

blp = Blueprint(
    __name__.split(".")[1],
    __name__,
    description="The hospital, its departments, clinicians, rooms and counters.",
)


@blp.route("/hospital", methods=["GET"])
@public("the hospital's public directory")
@blp.response(200, HospitalOut)
def get_hospital() -> Hospital:
    """Show the hospital: names in both languages and its time zone."""
    return current_hospital()


@blp.route("/departments", methods=["GET"])
@public("the hospital's public directory")
@blp.arguments(DepartmentQueryArgs, location="query")
@blp.response(200, DepartmentOut(many=True))
def list_departments(args: dict[str, Any]) -> list[Department]:
    """List departments; `q` searches the Chinese or English name and the pinyin initials."""
    return service.search_departments(current_hospital(), args.get("q"))


@blp.route("/departments/<int:department_id>", methods=["GET"])
@public("the hospital's public directory")
@blp.response(200, DepartmentOut)
def get_department(department_id: int) -> Department:
    """Show one department."""
    return service.get_department(current_hospital(), department_id)


@blp.route("/clinicians", methods=["GET"])
@public("the hospital's public directory")
@blp.arguments(ClinicianQueryArgs, location="query")
@blp.response(200, ClinicianOut(many=True))
def list_clinicians(args: dict[str, Any]) -> list[Clinician]:
    """List clinicians, optionally of one department."""
    return service.list_clinicians(current_hospital(), args.get("department_id"))


@blp.route("/clinicians/<int:clinician_id>", methods=["GET"])
@public("the hospital's public directory")
@blp.response(200, ClinicianOut)
def get_clinician(clinician_id: int) -> Clinician:
    """Show one clinician."""
    return service.get_clinician(current_hospital(), clinician_id)


@blp.route("/service-points", methods=["GET"])
@public("the hospital's public directory")
@blp.arguments(ServicePointQueryArgs, location="query")
@blp.response(200, ServicePointOut(many=True))
def list_service_points(args: dict[str, Any]) -> list[ServicePoint]:
    """List rooms and counters, optionally of one kind (e.g. cashier) or department."""
    kind = ServicePointKind(args["kind"]) if "kind" in args else None
    return service.list_service_points(current_hospital(), kind, args.get("department_id"))


@blp.route("/service-points/<int:service_point_id>", methods=["GET"])
@public("the hospital's public directory")
@blp.response(200, ServicePointOut)
def get_service_point(service_point_id: int) -> ServicePoint:
    """Show one room or counter with directions."""
    return service.get_service_point(current_hospital(), service_point_id)


# ---- admin ---------------------------------------------------------------------------------


@blp.route("/departments", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(DepartmentCreateArgs)
@blp.response(201, DepartmentOut)
def create_department(args: dict[str, Any]) -> Department:
    """Add a department (admin)."""
    return service.create_department(
        actor=signed_in_account(), hospital=current_hospital(), values=args, now=utcnow()
    )


@blp.route("/departments/<int:department_id>", methods=["PATCH"])
@require_roles(Role.ADMIN)
@blp.arguments(DepartmentUpdateArgs)
@blp.response(200, DepartmentOut)
def update_department(args: dict[str, Any], department_id: int) -> Department:
    """Change a department (admin)."""
    return service.update_department(
        actor=signed_in_account(),
        hospital=current_hospital(),
        department_id=department_id,
        changes=args,
        now=utcnow(),
    )


@blp.route("/clinicians", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(ClinicianCreateArgs)
@blp.response(201, ClinicianOut)
def create_clinician(args: dict[str, Any]) -> Clinician:
    """Add a clinician (admin)."""
    return service.create_clinician(
        actor=signed_in_account(), hospital=current_hospital(), values=args, now=utcnow()
    )


@blp.route("/clinicians/<int:clinician_id>", methods=["PATCH"])
@require_roles(Role.ADMIN)
@blp.arguments(ClinicianUpdateArgs)
@blp.response(200, ClinicianOut)
def update_clinician(args: dict[str, Any], clinician_id: int) -> Clinician:
    """Change a clinician (admin)."""
    return service.update_clinician(
        actor=signed_in_account(),
        hospital=current_hospital(),
        clinician_id=clinician_id,
        changes=args,
        now=utcnow(),
    )


@blp.route("/service-points", methods=["POST"])
@require_roles(Role.ADMIN)
@blp.arguments(ServicePointCreateArgs)
@blp.response(201, ServicePointOut)
def create_service_point(args: dict[str, Any]) -> ServicePoint:
    """Add a room or counter (admin)."""
    return service.create_service_point(
        actor=signed_in_account(), hospital=current_hospital(), values=args, now=utcnow()
    )


@blp.route("/service-points/<int:service_point_id>", methods=["PATCH"])
@require_roles(Role.ADMIN)
@blp.arguments(ServicePointUpdateArgs)
@blp.response(200, ServicePointOut)
def update_service_point(args: dict[str, Any], service_point_id: int) -> ServicePoint:
    """Change a room or counter (admin)."""
    return service.update_service_point(
        actor=signed_in_account(),
        hospital=current_hospital(),
        service_point_id=service_point_id,
        changes=args,
        now=utcnow(),
    )
