"""Fixtures for the scheduling tests: a hospital with one clinician and a few patients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account, Role
from hospital.db import db
from hospital.organisation.models import Clinician, Department, Hospital
from hospital.patients.models import Patient, Relationship
from scheduling.models import OCCUPYING_STATES, Appointment, Slot
from tests.support import factories


@dataclass
class World:
    hospital: Hospital
    department: Department
    clinician: Clinician
    registrar: Account
    admin: Account
    accounts: list[Account] = field(default_factory=list)
    patients: list[Patient] = field(default_factory=list)

    def add_patient(self, *, account: Account | None = None, **kw: Any) -> tuple[Account, Patient]:
        relationship = Relationship.SELF if account is None else Relationship.CHILD
        account = account or factories.create_account(self.hospital)
        patient = factories.create_patient(
            self.hospital, account=account, relationship=relationship, **kw
        )
        self.accounts.append(account)
        self.patients.append(patient)
        return account, patient


def build_world(n_patients: int = 3) -> World:
    hospital = factories.create_hospital()
    department = factories.create_department(hospital)
    clinician = factories.create_clinician(department)
    world = World(
        hospital=hospital,
        department=department,
        clinician=clinician,
        registrar=factories.create_account(hospital, roles=(Role.REGISTRAR,)),
        admin=factories.create_account(hospital, roles=(Role.ADMIN,)),
    )
    for _ in range(n_patients):
        world.add_patient()
    return world


@pytest.fixture
def world(db_session: Any) -> World:
    return build_world()


def assert_slot_invariants() -> None:
    """Invariant 1: every slot's counter equals its occupying appointments, within capacity."""
    occupying = (
        sa.select(Appointment.slot_id, sa.func.count().label("n"))
        .where(Appointment.state.in_(OCCUPYING_STATES))
        .group_by(Appointment.slot_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Slot.id, Slot.booked, Slot.capacity, Slot.addon_allowance, occupying.c.n)
        .outerjoin(occupying, occupying.c.slot_id == Slot.id)
        .execution_options(populate_existing=True)
    ).all()
    for slot_id, booked, capacity, addons, n in rows:
        assert booked == (n or 0), f"slot {slot_id}: counter {booked} != occupants {n}"
        assert booked <= capacity + addons, f"slot {slot_id} overbooked"
