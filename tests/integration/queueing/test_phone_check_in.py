"""'I have arrived': check in from the phone by scanning the department's poster, in the window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from hospital.errors import Conflict, InvalidInput, NotFound
from queueing.models import Ticket
from queueing.services import arrivals
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.kiosk_factories import book, create_clinic

URL = "/api/v1/queueing/check-in"


def _world() -> tuple[Any, Any, Any, Any]:
    now = utcnow()
    hospital = factories.create_hospital(timezone=factories.daytime_zone(now))
    clinic = create_clinic(hospital, now=now)
    account = factories.create_account(hospital)
    patient = factories.create_patient(hospital, account=account, name="张三明")
    return hospital, clinic, account, book(clinic, patient, now=now)


def _tickets() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0)


def test_the_patient_checks_in_from_the_phone_with_the_poster_code(
    client: Any, db_session: Any
) -> None:
    _hospital, clinic, account, appointment = _world()
    code = arrivals.poster_code_of(clinic.point)
    sign_in(client, account)
    response = client.post(URL, json={"appointment_id": appointment.id, "poster_code": code})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["code"] and "/q/" in body["link"]
    again = client.post(URL, json={"appointment_id": appointment.id, "poster_code": code})
    assert again.get_json()["code"] == body["code"]
    assert _tickets() == 1


@pytest.mark.parametrize("poster", ["", "missing", "edited", "other-hospital"])
def test_without_a_genuine_poster_code_nothing_is_checked_in(
    client: Any, db_session: Any, poster: str
) -> None:
    _hospital, clinic, account, appointment = _world()
    code = arrivals.poster_code_of(clinic.point)
    other_point = factories.create_service_point(factories.create_hospital())
    body: dict[str, Any] = {"appointment_id": appointment.id}
    if poster == "":
        body["poster_code"] = ""
    elif poster == "edited":
        body["poster_code"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    elif poster == "other-hospital":
        body["poster_code"] = arrivals.poster_code_of(other_point)
    sign_in(client, account)
    response = client.post(URL, json=body)
    assert 400 <= response.status_code < 500
    expected = {
        "": "invalid_input",  # the schema refuses an empty code
        "missing": "poster_code_required",
        "edited": "poster_code_invalid",
        "other-hospital": "poster_code_invalid",
    }
    assert response.get_json()["code"] == expected[poster]
    assert _tickets() == 0


def test_a_poster_of_another_department_is_refused(client: Any, db_session: Any) -> None:
    hospital, _clinic, account, appointment = _world()
    elsewhere = factories.create_service_point(
        hospital, department_id=factories.create_department(hospital).id
    )
    sign_in(client, account)
    response = client.post(
        URL,
        json={"appointment_id": appointment.id, "poster_code": arrivals.poster_code_of(elsewhere)},
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "poster_other_department"
    assert _tickets() == 0


def test_outside_the_check_in_window_the_phone_gets_no_number(db_session: Any) -> None:
    _hospital, clinic, account, appointment = _world()
    code = arrivals.poster_code_of(clinic.point)
    early = appointment.slot.starts_at - timedelta(hours=3)
    with pytest.raises(Conflict) as caught:
        arrivals.check_in_from_phone(
            actor=account, appointment_id=appointment.id, poster_code=code, now=early
        )
    assert caught.value.code == "outside_checkin_window"
    with pytest.raises(NotFound):
        arrivals.check_in_from_phone(
            actor=account, appointment_id=appointment.id, poster_code="HQP1.1.1.0", now=utcnow()
        )
    with pytest.raises(InvalidInput):
        arrivals.check_in_from_phone(
            actor=account, appointment_id=appointment.id, poster_code="", now=utcnow()
        )


def test_someone_elses_appointment_is_not_found(client: Any, db_session: Any) -> None:
    hospital, clinic, _account, appointment = _world()
    stranger = factories.create_account(hospital)
    factories.create_patient(hospital, account=stranger)
    sign_in(client, stranger)
    response = client.post(
        URL,
        json={
            "appointment_id": appointment.id,
            "poster_code": arrivals.poster_code_of(clinic.point),
        },
    )
    assert response.status_code in (403, 404)
    assert _tickets() == 0


def test_the_poster_page_and_the_arrival_pages(client: Any, db_session: Any) -> None:
    hospital, clinic, account, appointment = _world()
    admin = factories.create_account(hospital, roles=(Role.ADMIN,))
    sign_in(client, admin)
    poster = client.get(f"/queueing/points/{clinic.point.id}/poster")
    assert poster.status_code == 200
    text = poster.get_data(as_text=True)
    code = arrivals.poster_code_of(clinic.point)
    assert f'data-poster-code="{code}"' in text and "<svg" in text
    board = client.get(f"/queueing/board?points={clinic.point.id}").get_data(as_text=True)
    assert f'data-poster="{clinic.point.id}"' in board
    by_department = client.get(f"/queueing/board?department={clinic.department.id}")
    assert f'data-poster="{clinic.point.id}"' in by_department.get_data(as_text=True)

    g.pop("_login_user", None)
    g.pop("hospital", None)
    sign_in(client, account)
    assert client.get(f"/queueing/points/{clinic.point.id}/poster").status_code == 403
    mine = client.get("/appointments").get_data(as_text=True)
    assert 'data-action="arrived"' in mine and 'href="/arrive"' in mine
    assert client.get("/arrive").status_code == 200
    typed = client.get(f"/arrive?poster_code={code}")
    assert typed.status_code == 302 and typed.headers["Location"].endswith(f"/arrive/{code}")
    listed = client.get(f"/arrive/{code}").get_data(as_text=True)
    assert f'data-appointment="{appointment.id}"' in listed
    checked = client.post(f"/arrive/{code}", data={"appointment_id": appointment.id})
    assert checked.status_code == 303 and "/q/" in checked.headers["Location"]
    assert _tickets() == 1
    assert client.get("/arrive/HQP1.1.1.0000000000000000").status_code == 404
