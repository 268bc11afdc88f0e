"""Staff check-in on the day list issues the number as the kiosk does; a session always has a room."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from queueing.models import Ticket
from queueing.services import issuing
from scheduling.models import Appointment, AppointmentState
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.kiosk_factories import book, create_clinic
from tests.support.scheduling_factories import create_clinic_session


def _world(hospital_zone: str | None = None) -> tuple[Any, Any, Any]:
    now = utcnow()
    hospital = factories.create_hospital(timezone=hospital_zone or factories.daytime_zone(now))
    clinic = create_clinic(hospital, now=now)
    account = factories.create_account(hospital)
    patient = factories.create_patient(hospital, account=account, name="张三明")
    return hospital, clinic, book(clinic, patient, now=now)


def _tickets() -> list[Ticket]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Ticket)))


def test_staff_check_in_on_the_day_list_issues_the_queue_number(
    client: Any, db_session: Any
) -> None:
    hospital, clinic, appointment = _world()
    registrar = factories.create_account(hospital, roles=(Role.REGISTRAR,))
    sign_in(client, registrar)
    response = client.post(
        f"/staff/appointments/{appointment.id}/check-in",
        data={"clinician_id": clinic.clinician.id},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    (ticket,) = _tickets()
    assert ticket.appointment_id == appointment.id
    assert ticket.queue.service_point_id == clinic.point.id
    assert db.session.get(Appointment, appointment.id).state is AppointmentState.CHECKED_IN
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ticket.code in page
    # Checking in again gives the same number, never a second one.
    again = client.post(f"/staff/appointments/{appointment.id}/check-in")
    assert again.status_code == 302
    assert len(_tickets()) == 1
    audited = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "queue.check_in")
    ).all()
    assert audited and all(a.actor_account_id == registrar.id for a in audited)


def test_a_session_without_a_room_is_held_in_the_clinicians_usual_room(db_session: Any) -> None:
    hospital, clinic, appointment = _world()
    # An earlier session of the same clinician was in this room: it is the usual one.
    create_clinic_session(
        clinic.clinician,
        local_date=clinic.session.local_date - timedelta(days=7),
        service_point_id=clinic.point.id,
        zone=hospital.timezone,
    )
    clinic.session.service_point_id = None
    db.session.flush()
    ticket, created = issuing.check_in(
        actor=None, hospital_id=hospital.id, appointment_id=appointment.id, now=utcnow()
    )
    assert created and ticket.queue.service_point_id == clinic.point.id


def test_staff_check_in_of_a_session_with_no_room_at_all_is_refused_with_a_message(
    client: Any, db_session: Any
) -> None:
    hospital, clinic, appointment = _world()
    clinic.session.service_point_id = None
    db.session.flush()
    nurse = factories.create_account(hospital, roles=(Role.NURSE,))
    sign_in(client, nurse)
    response = client.post(f"/staff/appointments/{appointment.id}/check-in")
    assert response.status_code == 409
    assert "诊室" in response.get_data(as_text=True) or "room" in response.get_data(as_text=True)
    assert _tickets() == []
    assert db.session.get(Appointment, appointment.id).state is AppointmentState.BOOKED
