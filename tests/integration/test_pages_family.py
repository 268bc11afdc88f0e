"""My family members pages: list, add, change permissions, remove; only one's own links."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from hospital.patients.models import FamilyLink, Relationship
from tests.support.auth import sign_in
from tests.support.factories import make_resident_id


def _me(hospital: Any, create_account: Any, create_patient: Any, client: Any) -> Any:
    account = create_account(hospital)
    create_patient(hospital, account=account, name="李明", birth_date=date(1985, 5, 1))
    sign_in(client, account)
    db.session.commit()  # a refused request rolls back what is not committed
    return account


def _links(account: Any) -> list[FamilyLink]:
    return list(
        db.session.scalars(
            sa.select(FamilyLink).where(FamilyLink.account_id == account.id).order_by(FamilyLink.id)
        )
    )


def test_the_list_shows_self_first_with_masked_id_and_permissions_in_words(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = _me(hospital, create_account, create_patient, client)
    parent = create_patient(
        hospital, account=account, relationship=Relationship.PARENT, name="李大山"
    )
    link = _links(account)[-1]
    link.can_pay = False
    db.session.commit()

    html = client.get("/family?lang=en").get_data(as_text=True)

    assert html.index("李明") < html.index("李大山")
    assert parent.id_number not in html
    assert parent.id_number[:6] + "********" + parent.id_number[-4:] in html
    assert "My parent" in html
    assert "Book appointments, See test reports" in html


def test_an_elder_without_a_phone_is_added(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = _me(hospital, create_account, create_patient, client)
    number = make_resident_id(date(1948, 2, 3), male=False)

    response = client.post(
        "/family/add",
        data={
            "relationship": "parent",
            "name": "王秀英",
            "sex": "female",
            "birth_date": "1948-02-03",
            "id_type": "resident_id",
            "id_number": number,
            "phone": "",
            "can_book": "1",
            "can_view_reports": "1",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/family"
    added = _links(account)[-1]
    assert added.patient.name == "王秀英"
    assert added.patient.phone is None
    assert (added.can_book, added.can_pay, added.can_view_reports) == (True, False, True)
    assert "王秀英" in client.get("/family").get_data(as_text=True)


def test_a_bad_identity_number_is_explained_and_the_input_kept(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = _me(hospital, create_account, create_patient, client)

    page = client.post(
        "/family/add?lang=en",
        data={
            "relationship": "parent",
            "name": "王秀英",
            "sex": "female",
            "birth_date": "1948-02-03",
            "id_type": "resident_id",
            "id_number": "110105194802030001",
            "can_book": "1",
        },
    )

    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'role="alert"' in html
    assert 'value="王秀英"' in html
    assert 'value="110105194802030001"' in html
    assert 'aria-invalid="true"' in html
    assert len(_links(account)) == 1


def test_a_date_that_is_not_a_date_is_refused_with_a_message(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _me(hospital, create_account, create_patient, client)

    page = client.post(
        "/family/add?lang=en",
        data={
            "relationship": "parent",
            "name": "王秀英",
            "sex": "female",
            "birth_date": "3 Feb",
            "id_type": "resident_id",
            "id_number": "x",
        },
    )

    assert page.status_code == 422
    assert "year-month-day" in page.get_data(as_text=True)


def test_permissions_are_changed(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = _me(hospital, create_account, create_patient, client)
    create_patient(hospital, account=account, relationship=Relationship.PARENT, name="李大山")
    db.session.commit()
    link = _links(account)[-1]

    assert client.get(f"/family/{link.id}/edit").status_code == 200
    response = client.post(
        f"/family/{link.id}/edit", data={"relationship": "parent", "can_view_reports": "1"}
    )

    assert response.status_code == 302
    db.session.expire_all()
    changed = db.session.get(FamilyLink, link.id)
    assert (changed.can_book, changed.can_pay, changed.can_view_reports) == (False, False, True)


def test_a_member_is_removed_after_confirming(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    account = _me(hospital, create_account, create_patient, client)
    create_patient(hospital, account=account, relationship=Relationship.PARENT, name="李大山")
    db.session.commit()
    link = _links(account)[-1]

    confirm = client.get(f"/family/{link.id}/remove?lang=en")
    assert confirm.status_code == 200
    assert "李大山" in confirm.get_data(as_text=True)
    assert len(_links(account)) == 2

    assert client.post(f"/family/{link.id}/remove").status_code == 302
    db.session.expire_all()
    assert [each.relationship for each in _links(account)] == [Relationship.SELF]


def test_another_accounts_link_is_not_found(
    client: Any, hospital: Any, create_account: Any, create_patient: Any
) -> None:
    _me(hospital, create_account, create_patient, client)
    stranger = create_account(hospital)
    create_patient(hospital, account=stranger, name="陌生人")
    db.session.commit()
    theirs = _links(stranger)[0]

    for response in (
        client.get(f"/family/{theirs.id}/edit"),
        client.get(f"/family/{theirs.id}/remove"),
        client.post(f"/family/{theirs.id}/remove"),
        client.post(f"/family/{theirs.id}/edit", data={"can_book": "1"}),
    ):
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert "<main" in html
        assert "陌生人" not in html
    db.session.expire_all()
    assert len(_links(stranger)) == 1


def test_an_anonymous_visitor_is_sent_to_sign_in_from_every_family_page(
    client: Any, hospital: Any
) -> None:
    for url in ("/family", "/family/add", "/family/1/edit", "/family/1/remove"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=/family")
