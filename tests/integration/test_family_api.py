"""The family REST API: masking, who may reach which link, and the registration desk's linking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.patients.models import FamilyLink, Patient
from hospital.patients.services import adding
from hospital.patients.services import links as patients_links
from tests.support.auth import sign_in
from tests.support.factories import make_resident_id
from tests.support.family_factories import (
    assert_refused,
    fresh_requests,
    person,
    person_json,
    row_count,
)

URL = "/api/v1/family/"


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> Iterator[None]:
    with fresh_requests(app):
        yield


@pytest.fixture
def account(hospital: Any, create_account: Any) -> Any:
    return create_account(hospital, phone="13800000021")


@pytest.fixture
def signed_in(client: Any, account: Any) -> Any:
    sign_in(client, account)
    client.set_cookie("lang", "en")
    db.session.commit()  # a refused request rolls back to here, not past the test's own rows
    return client


def test_list_shows_own_profile_first_with_identity_numbers_masked(
    signed_in: Any, account: Any
) -> None:
    father = person_json(phone="13912345678")
    assert signed_in.post(URL, json=father).status_code == 201
    own_born = date(1978, 5, 12)
    own = person_json(
        relationship="self",
        name="李梅",
        sex="female",
        birth_date=own_born,
        id_number=make_resident_id(own_born, male=False),
    )
    assert signed_in.post(URL, json=own).status_code == 201

    response = signed_in.get(URL)

    assert response.status_code == 200
    links = response.get_json()
    assert [link["relationship"] for link in links] == ["self", "parent"]
    text = response.get_data(as_text=True)
    for number in (father["id_number"], own["id_number"], "13912345678"):
        assert number not in text
    masked = links[1]["patient"]["id_number_masked"]
    assert masked.startswith(father["id_number"][:6]) and masked.endswith(father["id_number"][-4:])
    assert "*" in masked
    assert links[1]["patient"]["phone_masked"] == "139****5678"
    assert links[1]["patient"]["medical_record_number"]


def test_add_read_change_and_remove_a_family_member(signed_in: Any) -> None:
    created = signed_in.post(URL, json=person_json(can_pay=False))
    assert created.status_code == 201, created.get_json()
    link = created.get_json()
    assert link["can_pay"] is False and link["patient"]["name"] == "李建华"

    assert signed_in.get(f"{URL}{link['id']}").get_json()["id"] == link["id"]
    changed = signed_in.patch(f"{URL}{link['id']}", json={"can_pay": True, "relationship": "other"})
    assert changed.status_code == 200
    assert changed.get_json()["can_pay"] is True
    assert changed.get_json()["relationship"] == "other"

    removed = signed_in.delete(f"{URL}{link['id']}", headers={"X-Requested-With": "fetch"})
    assert removed.status_code == 204
    assert signed_in.get(URL).get_json() == []


def test_someone_else_is_already_registered(
    signed_in: Any, hospital: Any, create_account: Any
) -> None:
    father = person()
    adding.add_patient(account=create_account(hospital), **father, now=utcnow())
    db.session.commit()
    body = {**father, "birth_date": father["birth_date"].isoformat()}
    before = row_count(FamilyLink)

    response = signed_in.post(URL, json=body)

    # Issue #12 finding 2: a record without a phone can be linked only at the desk.
    assert_refused(response, 409, "consent_at_desk", mentions="registration desk")
    assert row_count(FamilyLink) == before


def test_the_limit_and_a_duplicate_are_refused_over_http(signed_in: Any) -> None:
    first = person_json()
    assert signed_in.post(URL, json=first).status_code == 201
    assert_refused(signed_in.post(URL, json=first), 409, "duplicate_family_member")
    for n in range(4):
        born = date(1950 + n, 2, 2)
        body = person_json(birth_date=born, id_number=make_resident_id(born))
        assert signed_in.post(URL, json=body).status_code == 201
    born = date(1960, 2, 2)
    before = (row_count(Patient), row_count(FamilyLink))

    refused = signed_in.post(
        URL, json=person_json(birth_date=born, id_number=make_resident_id(born))
    )

    assert_refused(refused, 409, "family_limit_reached", mentions="5")
    assert (row_count(Patient), row_count(FamilyLink)) == before


def test_another_account_cannot_read_change_or_remove_my_family_member(
    client: Any, hospital: Any, create_account: Any
) -> None:
    mine, intruder = create_account(hospital), create_account(hospital)
    link = adding.add_patient(account=mine, **person(), now=utcnow())
    sign_in(client, intruder)
    db.session.commit()
    target = f"{URL}{link.id}"

    assert_refused(client.get(target), 404, "link_not_found")
    assert_refused(client.patch(target, json={"can_book": False}), 404, "link_not_found")
    assert_refused(
        client.delete(target, headers={"X-Requested-With": "fetch"}), 404, "link_not_found"
    )

    db.session.expire_all()
    denials = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.actor_account_id == intruder.id, AuditEntry.outcome == "denied"
        )
    ).all()
    assert sorted(d.action for d in denials) == ["family.remove", "family.update", "family.view"]
    assert {d.patient_id for d in denials} == {link.patient_id}
    still = db.session.get(FamilyLink, link.id)
    assert still is not None and still.can_book is True


def test_signing_in_is_required(client: Any, hospital: Any) -> None:
    db.session.commit()
    assert_refused(client.get(URL), 401, "sign_in_required")
    assert_refused(client.post(URL, json=person_json()), 401, "sign_in_required")
    assert row_count(Patient) == 0


@pytest.mark.parametrize("role", [Role.PATIENT, Role.NURSE, Role.CASHIER, Role.CLINICIAN])
def test_the_staff_link_endpoint_needs_the_registrar_or_admin_role(
    client: Any, hospital: Any, create_account: Any, create_patient: Any, role: Role
) -> None:
    target = create_account(hospital)
    patient = create_patient(hospital)
    sign_in(client, create_account(hospital, roles=(role,)))
    db.session.commit()

    response = client.post(
        f"{URL}staff-links",
        json={"account_id": target.id, "patient_id": patient.id, "relationship": "parent"},
    )

    assert_refused(response, 403, "role_required")
    assert row_count(FamilyLink) == 0


@pytest.mark.parametrize("role", [Role.REGISTRAR, Role.ADMIN])
def test_the_registration_desk_links_an_existing_patient(
    client: Any, hospital: Any, create_account: Any, role: Role
) -> None:
    first, second = create_account(hospital), create_account(hospital)
    father = adding.add_patient(account=first, **person(), now=utcnow()).patient
    desk = create_account(hospital, roles=(role,))
    sign_in(client, desk)
    db.session.commit()

    response = client.post(
        f"{URL}staff-links",
        json={
            "account_id": second.id,
            "patient_id": father.id,
            "relationship": "parent",
            "permissions": {"can_pay": False},
        },
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["account_id"] == second.id and body["can_pay"] is False and body["can_book"]
    assert [link.patient_id for link in patients_links.list_links(account=second)] == [father.id]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "family.staff_link"))
    assert entry.actor_account_id == desk.id and entry.detail["account_id"] == second.id

    again = client.post(
        f"{URL}staff-links",
        json={"account_id": second.id, "patient_id": father.id, "relationship": "parent"},
    )
    assert_refused(again, 409, "duplicate_family_member")


def test_the_desk_cannot_link_a_patient_of_another_hospital(
    client: Any, hospital: Any, create_hospital: Any, create_account: Any, create_patient: Any
) -> None:
    elsewhere = create_patient(create_hospital())
    target = create_account(hospital)
    desk = create_account(hospital, roles=(Role.REGISTRAR,))
    sign_in(client, desk)
    db.session.commit()

    response = client.post(
        f"{URL}staff-links",
        json={"account_id": target.id, "patient_id": elsewhere.id, "relationship": "parent"},
    )

    assert_refused(response, 404, "patient_not_found")
    assert row_count(FamilyLink) == 0
    db.session.expire_all()
    assert db.session.scalar(
        sa.select(AuditEntry.id).where(
            AuditEntry.actor_account_id == desk.id, AuditEntry.outcome == "denied"
        )
    )
