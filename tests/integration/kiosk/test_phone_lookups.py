"""Whom a confirmed phone reaches at the kiosk follows the one access rule (issue 13, #3)."""

from __future__ import annotations

from datetime import date

from hospital.patients.models import Relationship
from kiosk.services.identity import patients_for_phone
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.factories import create_account, create_patient


def test_a_phone_reaches_its_profiles_and_the_family_its_account_acts_for(
    world: KioskWorld,
) -> None:
    account = create_account(world.hospital)
    own = create_patient(world.hospital, account=account, birth_date=date(1970, 1, 2))
    child = create_patient(
        world.hospital,
        account=account,
        relationship=Relationship.CHILD,
        birth_date=date(2015, 5, 6),
    )
    by_phone = create_patient(world.hospital, phone=account.phone, birth_date=date(1940, 7, 8))
    create_patient(world.hospital, birth_date=date(1980, 9, 10))  # someone else
    found = patients_for_phone(world.hospital.id, account.phone)
    assert [p.id for p in found] == sorted([own.id, child.id, by_phone.id])


def test_a_deactivated_account_no_longer_reaches_its_family(world: KioskWorld) -> None:
    account = create_account(world.hospital)
    create_patient(world.hospital, account=account, birth_date=date(1970, 1, 2))
    by_phone = create_patient(world.hospital, phone=account.phone, birth_date=date(1940, 7, 8))
    account.is_active = False
    found = patients_for_phone(world.hospital.id, account.phone)
    assert [p.id for p in found] == [by_phone.id]
