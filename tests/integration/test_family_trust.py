"""Issue #12, findings 1, 2 and 9 (family half): rights are the patient's grant, linking someone
the hospital knows needs their consent, and identity numbers cannot be probed through the family.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.errors import Forbidden
from hospital.notifications.models import OutboxMessage
from hospital.patients import grants
from hospital.patients.models import FamilyLink, Patient
from hospital.patients.services import adding, links
from hospital.patients.services import desk as patients_desk
from queueing.models import Ticket
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in
from tests.support.factories import make_resident_id
from tests.support.family_factories import assert_refused, fresh_requests, person, person_json

URL = "/api/v1/family/"


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> Iterator[None]:
    with fresh_requests(app):
        yield


def _signed_in(client: Any, account: Any) -> Any:
    sign_in(client, account)
    client.set_cookie("lang", "en")
    db.session.commit()
    return client


def _audit(action: str, **where: Any) -> list[AuditEntry]:
    db.session.expire_all()
    query = sa.select(AuditEntry).where(AuditEntry.action == action)
    for key, value in where.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def _consent_code(phone: str) -> str:
    body = db.session.scalar(
        sa.select(OutboxMessage.body)
        .where(OutboxMessage.recipient == phone, OutboxMessage.template == "family_link_code")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    assert body is not None, f"no consent code was sent to {phone}"
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)


def _as_json(values: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {**values, "birth_date": values["birth_date"].isoformat(), **overrides}


def _lookup(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The body of a consent-code request for this person."""
    wanted = ("sex", "birth_date", "id_type", "id_number", *keys)
    return {k: v for k, v in _as_json(values).items() if k in wanted}


def _desk_link(hospital: Any, create_account: Any, create_patient: Any) -> tuple[Any, Any, Any]:
    """A holder linked by the registrar as book-only to a patient who has an account of their own."""
    patient_account = create_account(hospital, display_name="王秀英")
    patient = create_patient(hospital, account=patient_account, name="王秀英", phone="13911112222")
    holder = create_account(hospital, display_name="李建华", phone="13955556666")
    desk = create_account(hospital, roles=(Role.REGISTRAR,))
    link = patients_desk.link_existing_patient(
        staff=desk,
        account_id=holder.id,
        patient_id=patient.id,
        relationship="parent",
        can_book=True,
        can_pay=False,
        can_view_reports=False,
        now=utcnow(),
    )
    db.session.commit()
    return patient_account, holder, link


# ---- finding 1: a family link cannot raise its own rights -----------------------------------


def test_the_holder_of_a_book_only_link_cannot_give_itself_reports_over_the_api(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _patient_account, holder, link = _desk_link(hospital, create_account, create_patient)
    _signed_in(client, holder)

    refused = client.patch(f"{URL}{link.id}", json={"can_view_reports": True, "can_pay": True})

    body = assert_refused(refused, 403, "rights_granted_by_patient", mentions="registration desk")
    assert "Who can act for me" in body["message"]
    db.session.expire_all()
    still = db.session.get(FamilyLink, link.id)
    assert (still.can_pay, still.can_view_reports) == (False, False)
    (denial,) = _audit("family.update", outcome="denied", actor_account_id=holder.id)
    assert sorted(denial.detail["raising"]) == ["can_pay", "can_view_reports"]

    lowered = client.patch(f"{URL}{link.id}", json={"can_book": False, "relationship": "other"})
    assert lowered.status_code == 200, lowered.get_json()
    assert lowered.get_json()["can_book"] is False


def test_the_holder_cannot_raise_rights_on_the_edit_page_either(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _patient_account, holder, link = _desk_link(hospital, create_account, create_patient)
    _signed_in(client, holder)

    form = client.get(f"/family/{link.id}/edit?lang=en").get_data(as_text=True)
    assert "data-rights-hint" in form
    page = client.post(
        f"/family/{link.id}/edit?lang=en",
        data={"relationship": "parent", "can_book": "1", "can_view_reports": "1"},
    )

    assert page.status_code == 403
    assert "registration desk" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(FamilyLink, link.id).can_view_reports is False


def test_the_holder_raises_rights_only_on_a_new_profile_it_made_without_an_account(
    hospital: Any, create_account: Any
) -> None:
    holder = create_account(hospital)
    link = adding.add_patient(account=holder, **person(can_pay=False), now=utcnow())
    assert grants.holder_may_raise(link)
    links.update_link(account=holder, link_id=link.id, can_pay=True, now=utcnow())
    assert link.can_pay is True
    links.update_link(account=holder, link_id=link.id, can_pay=False, now=utcnow())

    # The person signs up and the desk links their own account: from now on they grant.
    own = create_account(hospital)
    desk = create_account(hospital, roles=(Role.REGISTRAR,))
    patients_desk.link_existing_patient(
        staff=desk, account_id=own.id, patient_id=link.patient_id, relationship="self", now=utcnow()
    )
    assert not grants.holder_may_raise(link)
    with pytest.raises(Forbidden) as refused:
        links.update_link(account=holder, link_id=link.id, can_pay=True, now=utcnow())
    assert refused.value.code == "rights_granted_by_patient"
    assert link.can_pay is False


def test_the_patient_sees_who_acts_for_them_and_changes_or_ends_it(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    patient_account, holder, link = _desk_link(hospital, create_account, create_patient)
    _signed_in(client, patient_account)

    listed = client.get(f"{URL}granted")

    assert listed.status_code == 200
    (grant,) = listed.get_json()
    assert grant["id"] == link.id and grant["relationship"] == "parent"
    assert grant["holder"] == {"name_masked": "李*华", "phone_masked": "139****6666"}
    assert (grant["can_book"], grant["can_pay"], grant["can_view_reports"]) == (True, False, False)
    assert "13955556666" not in listed.get_data(as_text=True)

    raised = client.patch(f"{URL}granted/{link.id}", json={"can_view_reports": True})
    assert raised.status_code == 200, raised.get_json()
    assert raised.get_json()["can_view_reports"] is True
    (entry,) = _audit("family.grant_update", actor_account_id=patient_account.id)
    assert entry.detail["holder_account_id"] == holder.id
    assert entry.detail["after"]["can_view_reports"] is True

    revoked = client.delete(f"{URL}granted/{link.id}", headers={"X-Requested-With": "fetch"})
    assert revoked.status_code == 204
    assert db.session.get(FamilyLink, link.id) is None
    assert _audit("family.grant_revoke", actor_account_id=patient_account.id)
    assert client.get(f"{URL}granted").get_json() == []


def test_nobody_else_can_change_or_end_a_link_to_someone_elses_record(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _patient_account, holder, link = _desk_link(hospital, create_account, create_patient)
    stranger = create_account(hospital)
    create_patient(hospital, account=stranger, name="陌生人")
    db.session.commit()
    for who in (holder, stranger):
        _signed_in(client, who)
        assert client.get(f"{URL}granted").get_json() == []
        assert_refused(
            client.patch(f"{URL}granted/{link.id}", json={"can_pay": True}), 404, "link_not_found"
        )
        assert_refused(
            client.delete(f"{URL}granted/{link.id}", headers={"X-Requested-With": "fetch"}),
            404,
            "link_not_found",
        )
    db.session.expire_all()
    assert db.session.get(FamilyLink, link.id).can_pay is False
    assert len(_audit("family.grant_update", outcome="denied")) == 2


def test_who_can_act_for_me_page_in_both_languages_and_in_elder_mode(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    patient_account, _holder, link = _desk_link(hospital, create_account, create_patient)
    _signed_in(client, patient_account)

    english = client.get("/family/granted?lang=en").get_data(as_text=True)
    assert "Who can act for me" in english and "李*华" in english and "139****6666" in english
    assert "Book appointments" in english
    chinese = client.get("/family/granted?lang=zh").get_data(as_text=True)
    assert "谁可以代我办理" in chinese

    client.post("/elder-mode/on", data={})
    family = client.get("/family?lang=zh").get_data(as_text=True)
    assert 'class="elder' in family
    link_tag = re.search(r'<a [^>]*data-action="granted"[^>]*>', family)
    assert link_tag and "secondary" not in link_tag.group(0)  # a main action, not a hint

    page = client.post(f"/family/granted/{link.id}/edit", data={"can_book": "1", "can_pay": "1"})
    assert page.status_code == 302
    db.session.expire_all()
    changed = db.session.get(FamilyLink, link.id)
    assert (changed.can_book, changed.can_pay, changed.can_view_reports) == (True, True, False)
    assert client.post(f"/family/granted/{link.id}/revoke").status_code == 302
    db.session.expire_all()
    assert db.session.get(FamilyLink, link.id) is None


@pytest.mark.parametrize("role", [Role.REGISTRAR, Role.ADMIN])
def test_the_desk_changes_a_links_rights_and_it_is_audited(
    client: Any, hospital: Any, create_account: Any, create_patient: Any, role: Role
) -> None:
    _patient_account, _holder, link = _desk_link(hospital, create_account, create_patient)
    staff = create_account(hospital, roles=(role,))
    _signed_in(client, staff)

    changed = client.patch(f"{URL}staff-links/{link.id}", json={"can_view_reports": True})

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["can_view_reports"] is True
    (entry,) = _audit("family.staff_update", actor_account_id=staff.id)
    assert entry.detail["before"]["can_view_reports"] is False


@pytest.mark.parametrize("role", [Role.PATIENT, Role.NURSE, Role.CASHIER])
def test_only_the_desk_changes_rights_as_staff(
    client: Any, hospital: Any, create_account: Any, create_patient: Any, role: Role
) -> None:
    _patient_account, _holder, link = _desk_link(hospital, create_account, create_patient)
    _signed_in(client, create_account(hospital, roles=(role,)))
    refused = client.patch(f"{URL}staff-links/{link.id}", json={"can_view_reports": True})
    assert refused.status_code == 403
    db.session.expire_all()
    assert db.session.get(FamilyLink, link.id).can_view_reports is False


# ---- finding 2: linking someone the hospital knows needs their consent ----------------------


def test_an_existing_record_is_linked_only_with_the_code_texted_to_its_phone(
    client: Any, hospital: Any, create_account: Any
) -> None:
    first = create_account(hospital)
    father = person(phone="13912345678")
    existing = adding.add_patient(account=first, **father, now=utcnow()).patient
    me = create_account(hospital)
    _signed_in(client, me)
    body = _as_json(father, can_pay=False)

    without = client.post(URL, json=body)
    assert_refused(without, 409, "consent_required", mentions="registration desk")

    asked = client.post(
        f"{URL}consent-code",
        json={k: body[k] for k in ("sex", "birth_date", "id_type", "id_number")},
    )
    assert asked.status_code == 200, asked.get_json()
    assert asked.get_json()["phone_masked"] == "139****5678"
    assert "13912345678" not in asked.get_data(as_text=True)
    code = _consent_code("13912345678")

    wrong = client.post(
        URL, json={**body, "consent_code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 401
    linked = client.post(URL, json={**body, "consent_code": code})

    assert linked.status_code == 201, linked.get_json()
    assert linked.get_json()["patient"]["id"] == existing.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1
    (added,) = _audit("family.add", actor_account_id=me.id, outcome="success")
    assert added.detail["existing_record"] is True and added.detail["consent"] == "code"
    # Linked from an earlier record: the holder cannot raise the rights it asked for.
    assert_refused(
        client.patch(f"{URL}{linked.get_json()['id']}", json={"can_pay": True}),
        403,
        "rights_granted_by_patient",
    )


def test_a_new_person_with_a_phone_that_belongs_to_an_account_needs_that_phones_code(
    client: Any, hospital: Any, create_account: Any
) -> None:
    create_account(hospital, phone="13700001111")
    me = create_account(hospital)
    _signed_in(client, me)
    body = person_json(phone="13700001111")

    assert_refused(client.post(URL, json=body), 409, "consent_required")
    asked = client.post(
        f"{URL}consent-code",
        json={k: body[k] for k in ("sex", "birth_date", "id_type", "id_number", "phone")},
    )
    assert asked.get_json()["phone_masked"] == "137****1111"
    added = client.post(URL, json={**body, "consent_code": _consent_code("13700001111")})
    assert added.status_code == 201, added.get_json()

    # The account's own phone needs no code, nor does a person nobody knows.
    born = date(1951, 1, 1)
    own = person_json(birth_date=born, id_number=make_resident_id(born), phone=me.phone)
    assert client.post(URL, json=own).status_code == 201


def test_a_record_without_a_phone_is_sent_to_the_desk_by_the_code_request(
    client: Any, hospital: Any, create_account: Any
) -> None:
    father = person()
    adding.add_patient(account=create_account(hospital), **father, now=utcnow())
    _signed_in(client, create_account(hospital))
    asked = client.post(f"{URL}consent-code", json=_lookup(father))
    assert_refused(asked, 409, "consent_at_desk", mentions="registration desk")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_the_add_page_offers_the_code_and_links_with_it(
    client: Any, hospital: Any, create_account: Any
) -> None:
    father = person(phone="13912345678")
    adding.add_patient(account=create_account(hospital), **father, now=utcnow())
    me = create_account(hospital)
    _signed_in(client, me)
    form = _as_json(father, can_book="1")

    refused = client.post("/family/add?lang=en", data=form)
    assert refused.status_code == 409
    assert "data-consent" in refused.get_data(as_text=True)
    sent = client.post("/family/add?lang=en", data={**form, "send_code": "1"})
    assert sent.status_code == 200
    assert "139****5678" in sent.get_data(as_text=True)
    added = client.post("/family/add", data={**form, "consent_code": _consent_code("13912345678")})
    assert added.status_code == 302
    assert [link.patient.phone for link in links.list_links(account=me)] == ["13912345678"]


def test_a_record_made_online_is_confirmed_by_the_desk_at_its_first_match(
    client: Any, hospital: Any, create_account: Any, create_service_point: Any
) -> None:
    point = create_service_point(hospital)
    qf.open_queue(point, now=utcnow())
    link = adding.add_patient(
        account=create_account(hospital), **person(name="李建华"), now=utcnow()
    )
    patient = link.patient
    assert patient.identity_confirmed_at is None
    registrar = create_account(hospital, roles=(Role.REGISTRAR,))
    _signed_in(client, registrar)
    form = {"service_point_id": str(point.id), "patient_number": patient.id_number}

    asked = client.post("/queueing/desk?lang=en", data=form)

    assert asked.status_code == 200
    html = asked.get_data(as_text=True)
    assert f'data-confirm-identity="{patient.id}"' in html
    assert "李*华" in html and "1948-09-03" in html and "identity card" in html
    assert "李建华" not in html
    assert db.session.scalars(sa.select(Ticket)).all() == []
    assert _audit("patient.lookup", actor_account_id=registrar.id, patient_id=patient.id)

    issued = client.post("/queueing/desk", data={**form, "identity_checked": str(patient.id)})
    assert issued.status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).identity_confirmed_at is not None
    assert [t.patient_id for t in db.session.scalars(sa.select(Ticket))] == [patient.id]
    assert _audit("patient.identity_confirm", actor_account_id=registrar.id)

    again = client.post("/queueing/desk", data=form)
    assert again.status_code == 302  # confirmed once: the next match issues at once
    assert len(_audit("patient.lookup", actor_account_id=registrar.id)) == 3


def test_records_made_by_staff_or_seeding_are_confirmed(hospital: Any, create_patient: Any) -> None:
    assert create_patient(hospital).identity_confirmed_at is not None


# ---- finding 9 (family half): no probing who is a patient -----------------------------------


def test_at_the_limit_registered_and_unregistered_numbers_answer_alike(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    father = person(phone="13912345678")
    adding.add_patient(account=create_account(hospital), **father, now=utcnow())
    me = create_account(hospital)
    old = app.config["FAMILY_LIMIT"]
    app.config["FAMILY_LIMIT"] = 1
    try:
        born = date(1950, 1, 1)
        adding.add_patient(
            account=me, **person(birth_date=born, id_number=make_resident_id(born)), now=utcnow()
        )
        _signed_in(client, me)
        registered = client.post(URL, json=_as_json(father))
        unborn = date(1952, 2, 2)
        unregistered = client.post(
            URL, json=person_json(birth_date=unborn, id_number=make_resident_id(unborn))
        )
        code_request = client.post(f"{URL}consent-code", json=_lookup(father))
    finally:
        app.config["FAMILY_LIMIT"] = old
    answers = [(r.status_code, r.get_json()) for r in (registered, unregistered, code_request)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][1]["code"] == "family_limit_reached"


def test_identity_lookups_are_limited_per_account_with_a_time_to_wait(
    client: Any, app: Any, hospital: Any, create_account: Any
) -> None:
    father = person(phone="13912345678")
    adding.add_patient(account=create_account(hospital), **father, now=utcnow())
    me = create_account(hospital)
    _signed_in(client, me)
    limit = app.config["FAMILY_LOOKUPS_PER_HOUR"]
    for _ in range(limit):
        assert_refused(client.post(URL, json=_as_json(father)), 409, "consent_required")

    refused = client.post(URL, json=_as_json(father))

    body = assert_refused(refused, 429, "lookup_limited", mentions="minutes")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert str(limit) in body["message"]
    born = date(1955, 5, 5)
    fresh = person_json(birth_date=born, id_number=make_resident_id(born))
    assert_refused(client.post(URL, json=fresh), 429, "lookup_limited")
    assert_refused(client.post(f"{URL}consent-code", json=_lookup(father)), 429, "lookup_limited")
    # Another account is not held back.
    _signed_in(client, create_account(hospital))
    assert client.post(URL, json=fresh).status_code == 201
    assert links.list_links(account=me) == []
