"""Family links through the service: limits, identity checks, duplicates and what gets audited."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hospital import events
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.patients.models import FamilyLink, Patient
from hospital.patients.services import adding
from hospital.patients.services import links as patients_links
from tests.support.factories import make_resident_id
from tests.support.family_factories import FATHER_BORN, english, person


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(Patient)),
        db.session.scalar(sa.select(sa.func.count()).select_from(FamilyLink)),
    )


@pytest.fixture
def account(hospital: Any, create_account: Any) -> Any:
    return create_account(hospital, phone="13800000011")


def test_own_profile_and_five_family_members_then_the_sixth_is_refused(account: Any) -> None:
    now = utcnow()
    own = adding.add_patient(
        account=account,
        **person(
            relationship="self",
            name="李梅",
            sex="female",
            birth_date=date(1978, 5, 12),
            id_number=make_resident_id(date(1978, 5, 12), male=False),
        ),
        now=now,
    )
    assert own.patient.phone == account.phone  # the own profile takes the account's phone
    for n in range(5):
        born = date(1950 + n, 1, 2)
        adding.add_patient(
            account=account,
            **person(name=f"家人{n}", birth_date=born, id_number=make_resident_id(born)),
            now=now,
        )
    before = counts()
    born = date(1960, 6, 6)

    with pytest.raises(Conflict) as refused:
        adding.add_patient(
            account=account,
            **person(name="第六人", birth_date=born, id_number=make_resident_id(born)),
            now=now,
        )

    assert refused.value.code == "family_limit_reached"
    assert "5" in english(refused.value.message)
    assert counts() == before
    links = patients_links.list_links(account=account)
    assert [link.relationship.value for link in links][0] == "self"
    assert len(links) == 6


def test_the_limit_follows_the_configuration(app: Any, account: Any) -> None:
    now = utcnow()
    old = app.config["FAMILY_LIMIT"]
    app.config["FAMILY_LIMIT"] = 1
    try:
        adding.add_patient(account=account, **person(), now=now)
        born = date(1951, 1, 1)
        with pytest.raises(Conflict) as refused:
            adding.add_patient(
                account=account,
                **person(birth_date=born, id_number=make_resident_id(born)),
                now=now,
            )
        assert "1 family members" in english(refused.value.message)
    finally:
        app.config["FAMILY_LIMIT"] = old


def test_a_second_own_profile_is_refused(account: Any) -> None:
    now = utcnow()
    adding.add_patient(account=account, **person(relationship="self"), now=now)
    born = date(1979, 1, 1)
    with pytest.raises(Conflict) as refused:
        adding.add_patient(
            account=account,
            **person(relationship="self", birth_date=born, id_number=make_resident_id(born)),
            now=now,
        )
    assert refused.value.code == "self_profile_exists"


def test_a_wrong_check_digit_is_named(account: Any) -> None:
    good = make_resident_id(FATHER_BORN)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    before = counts()

    with pytest.raises(InvalidInput) as refused:
        adding.add_patient(account=account, **person(id_number=bad), now=utcnow())

    assert refused.value.code == "invalid_id_number"
    assert "check digit" in english(refused.value.message)
    assert refused.value.details["id_number"]
    assert counts() == before


def test_a_birth_date_that_differs_from_the_id_is_refused(account: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        adding.add_patient(
            account=account,
            **person(birth_date=date(1948, 9, 4), id_number=make_resident_id(FATHER_BORN)),
            now=utcnow(),
        )
    assert refused.value.code == "invalid_id_number"
    assert "1948-09-03" in english(refused.value.message)
    assert "1948-09-04" in english(refused.value.message)


def test_a_sex_that_differs_from_the_id_is_refused(account: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        adding.add_patient(
            account=account,
            **person(sex="female", id_number=make_resident_id(FATHER_BORN, male=True)),
            now=utcnow(),
        )
    assert refused.value.code == "invalid_id_number"
    assert "sex" in english(refused.value.message)


def test_a_passport_is_normalised_and_checked(account: Any) -> None:
    link = adding.add_patient(
        account=account, **person(id_type="passport", id_number=" e1234 5678 "), now=utcnow()
    )
    assert link.patient.id_number == "E12345678"
    with pytest.raises(InvalidInput) as refused:
        adding.add_patient(
            account=account, **person(id_type="passport", id_number="E1!"), now=utcnow()
        )
    assert refused.value.code == "invalid_id_number"


def test_phone_is_normalised_and_a_bad_one_refused(account: Any) -> None:
    link = adding.add_patient(account=account, **person(phone="+86 139-1234-5678"), now=utcnow())
    assert link.patient.phone == "13912345678"
    born = date(1952, 2, 2)
    with pytest.raises(InvalidInput) as refused:
        adding.add_patient(
            account=account,
            **person(birth_date=born, id_number=make_resident_id(born), phone="12345"),
            now=utcnow(),
        )
    assert refused.value.code == "invalid_phone"
    assert refused.value.details == {"phone": [refused.value.message]}


def test_the_same_person_twice_is_a_duplicate(account: Any) -> None:
    father = person()
    adding.add_patient(account=account, **father, now=utcnow())
    before = counts()
    with pytest.raises(Conflict) as refused:
        adding.add_patient(account=account, **father, now=utcnow())
    assert refused.value.code == "duplicate_family_member"
    assert counts() == before


def test_a_person_registered_by_someone_else_is_never_linked_silently(
    hospital: Any, account: Any, create_account: Any
) -> None:
    other = create_account(hospital)
    father = person()
    adding.add_patient(account=other, **father, now=utcnow())
    before = counts()

    with pytest.raises(Conflict) as refused:
        adding.add_patient(account=account, **father, now=utcnow())

    # Issue #12 finding 2: the record has no phone to agree by SMS, so only the desk can link it.
    assert refused.value.code == "consent_at_desk"
    assert "registration desk" in english(refused.value.message)
    assert counts() == before
    assert patients_links.list_links(account=account) == []


def test_the_same_id_number_at_another_hospital_is_a_new_patient(
    account: Any, create_hospital: Any, create_account: Any
) -> None:
    elsewhere = create_account(create_hospital())
    father = person()
    adding.add_patient(account=elsewhere, **father, now=utcnow())
    link = adding.add_patient(account=account, **father, now=utcnow())
    assert link.patient.hospital_id == account.hospital_id


def test_adding_assigns_a_record_number_emits_the_event_and_audits(account: Any) -> None:
    heard: list[dict[str, Any]] = []

    def receiver(_sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs)

    now = utcnow()
    with events.family_member_added.connected_to(receiver):
        link = adding.add_patient(account=account, **person(can_pay=False), now=now)

    assert link.patient.medical_record_number
    assert link.can_pay is False and link.can_book is True
    assert heard == [{"patient_id": link.patient_id, "account_id": account.id, "now": now}]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "family.add"))
    assert entry is not None and entry.patient_id == link.patient_id
    assert entry.detail["can_pay"] is False


def test_record_numbers_are_unique(account: Any) -> None:
    numbers = set()
    for n in range(3):
        born = date(1940 + n, 3, 3)
        link = adding.add_patient(
            account=account,
            **person(birth_date=born, id_number=make_resident_id(born)),
            now=utcnow(),
        )
        numbers.add(link.patient.medical_record_number)
    assert len(numbers) == 3


def test_permissions_change_and_are_audited(account: Any) -> None:
    link = adding.add_patient(account=account, **person(), now=utcnow())
    updated = patients_links.update_link(
        account=account, link_id=link.id, can_view_reports=False, relationship="other", now=utcnow()
    )
    assert updated.can_view_reports is False and updated.relationship == "other"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "family.update"))
    assert entry.detail["before"]["can_view_reports"] is True
    assert entry.detail["after"]["can_view_reports"] is False


def test_the_own_profile_cannot_be_changed_nor_removed(account: Any) -> None:
    own = adding.add_patient(account=account, **person(relationship="self"), now=utcnow())
    with pytest.raises(InvalidInput) as refused:
        patients_links.update_link(account=account, link_id=own.id, can_book=False, now=utcnow())
    assert refused.value.code == "own_profile_fixed"
    with pytest.raises(Conflict) as refused_removal:
        patients_links.remove_link(account=account, link_id=own.id, now=utcnow())
    assert refused_removal.value.code == "cannot_remove_own_profile"
    assert len(patients_links.list_links(account=account)) == 1


def test_a_family_member_cannot_become_the_own_profile(account: Any) -> None:
    link = adding.add_patient(account=account, **person(), now=utcnow())
    with pytest.raises(InvalidInput):
        patients_links.update_link(
            account=account, link_id=link.id, relationship="self", now=utcnow()
        )


def test_removing_a_link_keeps_the_patient_and_frees_a_place(account: Any) -> None:
    link = adding.add_patient(account=account, **person(), now=utcnow())
    patients_before, _ = counts()
    patients_links.remove_link(account=account, link_id=link.id, now=utcnow())
    assert counts() == (patients_before, 0)
    assert db.session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "family.remove"))


def test_someone_elses_link_is_not_found_and_the_attempt_audited(
    hospital: Any, account: Any, create_account: Any
) -> None:
    other = create_account(hospital)
    theirs = adding.add_patient(account=other, **person(), now=utcnow())
    for attempt in (
        lambda: patients_links.get_link(account=account, link_id=theirs.id),
        lambda: patients_links.update_link(
            account=account, link_id=theirs.id, can_book=False, now=utcnow()
        ),
        lambda: patients_links.remove_link(account=account, link_id=theirs.id, now=utcnow()),
    ):
        with pytest.raises(NotFound) as refused:
            attempt()
        assert refused.value.code == "link_not_found"
    denials = db.session.scalars(
        sa.select(AuditEntry.action).where(
            AuditEntry.actor_account_id == account.id, AuditEntry.outcome == "denied"
        )
    ).all()
    assert sorted(denials) == ["family.remove", "family.update", "family.view"]
    assert theirs.can_book is True
