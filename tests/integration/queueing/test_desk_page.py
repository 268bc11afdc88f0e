"""The registration desk's page: a walk-in number for a patient found by record or ID number."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from queueing.models import PriorityClass, Ticket, TicketEvent
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in


def _tickets() -> list[Ticket]:
    return list(db.session.scalars(sa.select(Ticket).order_by(Ticket.id)))


def test_the_desk_issues_a_number_for_a_patient_found_by_identity_number(
    client: Any, hospital: Any, create_service_point: Any, create_account: Any, create_patient: Any
) -> None:
    point = create_service_point(hospital, room="108", floor="1")
    qf.open_queue(point, now=utcnow())
    patient = create_patient(hospital, name="张建国")
    registrar = create_account(hospital, roles=(Role.REGISTRAR,))
    sign_in(client, registrar)

    page = client.get("/queueing/desk?lang=en")
    assert page.status_code == 200
    assert f'<option value="{point.id}"' in page.get_data(as_text=True)

    issued = client.post(
        "/queueing/desk",
        data={
            "service_point_id": str(point.id),
            "patient_number": patient.id_number.lower(),  # read off the card, any case
            "priority": "elderly",
        },
    )
    assert issued.status_code == 302  # reloading the answer never issues a second number
    (ticket,) = _tickets()
    assert ticket.patient_id == patient.id and ticket.priority is PriorityClass.ELDERLY
    shown = client.get(issued.headers["Location"]).get_data(as_text=True)
    assert f'data-issued="{ticket.code}"' in shown
    assert "张*国" in shown and "张建国" not in shown
    assert "<svg" in shown
    # Who issued it is on the ticket's record.
    actors = db.session.scalars(
        sa.select(TicketEvent.actor_account_id).where(TicketEvent.ticket_id == ticket.id)
    ).all()
    assert registrar.id in actors

    by_record = client.post(
        "/queueing/desk",
        data={"service_point_id": str(point.id), "patient_number": patient.medical_record_number},
    )
    anonymous = client.post("/queueing/desk", data={"service_point_id": str(point.id)})
    assert by_record.status_code == anonymous.status_code == 302
    assert [t.patient_id for t in _tickets()] == [patient.id, patient.id, None]


def test_an_unknown_number_or_a_closed_queue_is_refused_in_words_and_issues_nothing(
    client: Any, hospital: Any, create_service_point: Any, create_account: Any
) -> None:
    point = create_service_point(hospital)
    closed = create_service_point(hospital)
    qf.open_queue(point, now=utcnow())
    sign_in(client, create_account(hospital, roles=(Role.REGISTRAR,)))
    unknown = client.post(
        "/queueing/desk?lang=en",
        data={"service_point_id": str(point.id), "patient_number": "99999999"},
    )
    assert unknown.status_code == 422
    assert "No patient has this record or identity number" in unknown.get_data(as_text=True)
    not_open = client.post("/queueing/desk?lang=en", data={"service_point_id": str(closed.id)})
    assert not_open.status_code == 422
    assert re.search(r"data-error>[^<]*queue", not_open.get_data(as_text=True))
    forged = client.post("/queueing/desk?lang=en", data={"service_point_id": "x"})
    assert forged.status_code == 422
    assert _tickets() == []


def test_patients_cannot_use_the_desk(client: Any, hospital: Any, create_account: Any) -> None:
    sign_in(client, create_account(hospital))
    assert client.get("/queueing/desk").status_code == 403
