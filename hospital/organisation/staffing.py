"""Which staff roles work each kind of service point: the one table every queue check reads."""

from __future__ import annotations

from collections.abc import Mapping

from hospital.accounts.models import Role
from hospital.organisation.models import ServicePointKind

# Admins work everywhere. There is no pharmacist role: nurses hand out medicine at the pharmacy
# window; imaging technicians hold the lab role (they publish imaging reports as lab does).
SERVICE_POINT_ROLES: Mapping[ServicePointKind, frozenset[Role]] = {
    ServicePointKind.CONSULTATION_ROOM: frozenset({Role.NURSE, Role.CLINICIAN, Role.ADMIN}),
    ServicePointKind.REGISTRATION_DESK: frozenset({Role.REGISTRAR, Role.ADMIN}),
    ServicePointKind.CASHIER: frozenset({Role.CASHIER, Role.ADMIN}),
    ServicePointKind.LAB_DRAW: frozenset({Role.LAB, Role.ADMIN}),
    ServicePointKind.PHARMACY: frozenset({Role.NURSE, Role.ADMIN}),
    ServicePointKind.IMAGING: frozenset({Role.LAB, Role.ADMIN}),
}


def roles_working(kind: ServicePointKind) -> frozenset[Role]:
    """The roles that may work a service point of this kind (only admins for an unknown kind)."""
    return SERVICE_POINT_ROLES.get(kind, frozenset({Role.ADMIN}))


def may_work(roles: frozenset[Role] | set[Role], kind: ServicePointKind) -> bool:
    """Whether an account holding these roles may run the queue of such a service point."""
    return bool(set(roles) & roles_working(kind))
