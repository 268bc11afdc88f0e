"""Staff pages for ad-hoc extra sessions and for lifting no-show booking suspensions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from scheduling.models import Appointment, BookingSuspension, ClinicSession, Slot
from scheduling.services import attendance, rules
from tests.integration.scheduling.conftest import World
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.scheduling_factories import create_clinic_session, slots_of


def switch_to(client: Any, account: Any) -> None:
    g.pop("_login_user", None)
    g.pop("hospital", None)
    sign_in(client, account)


def local_today(world: World) -> date:
    return utcnow().astimezone(rules.hospital_zone(world.hospital.id)).date()


def room_of(world: World) -> Any:
    """The hospital's consultation room (made on first use): an extra session needs a room."""
    from hospital.organisation.models import ServicePoint, ServicePointKind

    room = db.session.scalar(
        sa.select(ServicePoint).where(
            ServicePoint.hospital_id == world.hospital.id,
            ServicePoint.kind == ServicePointKind.CONSULTATION_ROOM,
        )
    )
    return room or factories.create_service_point(world.hospital)


def extra_form(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "clinician_id": world.clinician.id,
        "service_point_id": str(room_of(world).id),
        "local_date": (local_today(world) + timedelta(days=3)).isoformat(),
        "start_time": "13:30",
        "end_time": "15:00",
        "slot_minutes": "30",
        "capacity": "2",
        "fee_class": "general",
        "fee_yuan": "0",
    } | changes


def count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def suspend(world: World, patient: Any) -> BookingSuspension:
    suspension = BookingSuspension(
        hospital_id=world.hospital.id,
        patient_id=patient.id,
        starts_at=utcnow() - timedelta(days=1),
        ends_at=utcnow() + timedelta(days=29),
        strikes=3,
    )
    db.session.add(suspension)
    db.session.flush()
    return suspension


def test_admin_adds_an_extra_session_whose_slots_are_bookable(client: Any, world: World) -> None:
    sign_in(client, world.admin)
    page = client.get("/admin/schedule/extra-sessions")
    assert page.status_code == 200
    assert "data-no-extra-sessions" in page.get_data(as_text=True)
    assert "/admin/schedule/extra-sessions" in client.get("/admin/schedule").get_data(as_text=True)

    response = client.post("/admin/schedule/extra-sessions", data=extra_form(world))
    assert response.status_code == 302, response.get_data(as_text=True)
    (session,) = db.session.scalars(sa.select(ClinicSession)).all()
    assert session.template_id is None and session.clinician_id == world.clinician.id
    assert session.service_point_id == room_of(world).id
    slots = slots_of(session)
    assert [s.capacity for s in slots] == [2, 2, 2]
    listed = client.get("/admin/schedule/extra-sessions").get_data(as_text=True)
    assert f'data-session="{session.id}"' in listed

    switch_to(client, world.accounts[0])
    held = client.post(
        f"/book/sessions/{session.id}/hold",
        data={"slot_id": slots[0].id, "patient_id": world.patients[0].id},
    )
    assert held.status_code == 302, held.get_data(as_text=True)
    (appointment,) = db.session.scalars(sa.select(Appointment)).all()
    assert appointment.slot_id == slots[0].id


def test_only_admins_may_add_extra_sessions(client: Any, world: World) -> None:
    sign_in(client, world.registrar)
    assert client.get("/admin/schedule/extra-sessions").status_code == 403
    assert client.post("/admin/schedule/extra-sessions", data=extra_form(world)).status_code == 403
    switch_to(client, world.accounts[0])
    assert client.post("/admin/schedule/extra-sessions", data=extra_form(world)).status_code == 403
    assert count(ClinicSession) == 0 and count(Slot) == 0


@pytest.mark.parametrize(
    ("changes", "expected_status", "message"),
    [
        ({"start_time": "15:00", "end_time": "13:30"}, 422, "end after it starts"),
        ({"clinician_id": "999999"}, 422, "Choose a clinician."),
        ({"local_date": "2000-01-03"}, 422, "Choose today or a later day."),
        ({"local_date": "next week"}, 422, "Enter a date"),
        ({"slot_minutes": "0"}, 422, "Enter a whole number"),
        ({"fee_class": "vip"}, 422, "Choose one of the options."),
    ],
)
def test_bad_extra_sessions_are_explained_and_write_nothing(
    client: Any, world: World, changes: dict[str, Any], expected_status: int, message: str
) -> None:
    sign_in(client, world.admin)
    audit_before = count(AuditEntry)
    response = client.post(
        "/admin/schedule/extra-sessions?lang=en", data=extra_form(world, **changes)
    )
    assert response.status_code == expected_status
    page = response.get_data(as_text=True)
    assert "data-form-error" in page and message in page
    assert count(ClinicSession) == 0 and count(Slot) == 0
    assert count(AuditEntry) == audit_before


def test_registrar_lifts_a_suspension_and_the_patient_books_again(
    client: Any, world: World
) -> None:
    patient_account, patient = world.accounts[0], world.patients[0]
    suspend(world, patient)
    session = create_clinic_session(
        world.clinician,
        local_date=local_today(world) + timedelta(days=2),
        release_at=utcnow() - timedelta(hours=1),
    )
    slot = slots_of(session)[0]

    sign_in(client, patient_account)
    refused = client.post(
        f"/book/sessions/{session.id}/hold", data={"slot_id": slot.id, "patient_id": patient.id}
    )
    assert refused.status_code == 403

    switch_to(client, world.registrar)
    assert "/staff/suspensions" in client.get("/staff/day").get_data(as_text=True)
    listing = client.get("/staff/suspensions").get_data(as_text=True)
    assert f'data-suspended-patient="{patient.id}"' in listing
    lifted = client.post(
        "/staff/suspensions/lift", data={"patient_id": patient.id, "reason": "hospital error"}
    )
    assert lifted.status_code == 302, lifted.get_data(as_text=True)
    assert "data-no-suspensions" in client.get("/staff/suspensions").get_data(as_text=True)
    (suspension,) = db.session.scalars(
        sa.select(BookingSuspension).execution_options(populate_existing=True)
    ).all()
    assert suspension.lifted_by_account_id == world.registrar.id
    assert suspension.lift_reason == "hospital error"
    assert db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "scheduling.suspension_lifted")
    )

    switch_to(client, patient_account)
    booked = client.post(
        f"/book/sessions/{session.id}/hold", data={"slot_id": slot.id, "patient_id": patient.id}
    )
    assert booked.status_code == 302, booked.get_data(as_text=True)


def test_lifting_without_a_reason_is_refused_and_the_suspension_stays(
    client: Any, world: World
) -> None:
    patient = world.patients[0]
    suspend(world, patient)
    sign_in(client, world.registrar)
    response = client.post(
        "/staff/suspensions/lift?lang=en", data={"patient_id": patient.id, "reason": " "}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "data-form-error" in page and "Give a reason" in page
    assert f'data-suspended-patient="{patient.id}"' in page
    assert attendance.active_suspension(patient.id, now=utcnow()) is not None


def test_lifting_for_a_patient_who_is_not_suspended_is_a_conflict(
    client: Any, world: World
) -> None:
    sign_in(client, world.registrar)
    response = client.post(
        "/staff/suspensions/lift?lang=en",
        data={"patient_id": world.patients[1].id, "reason": "x"},
    )
    assert response.status_code == 409 and "not suspended" in response.get_data(as_text=True)


def test_patients_and_nurses_cannot_see_or_lift_suspensions(client: Any, world: World) -> None:
    patient = world.patients[0]
    suspend(world, patient)
    nurse = factories.create_account(world.hospital, roles=(Role.NURSE,))
    for account in (world.accounts[1], nurse):
        switch_to(client, account)
        assert client.get("/staff/suspensions").status_code == 403
        lift = client.post(
            "/staff/suspensions/lift", data={"patient_id": patient.id, "reason": "x"}
        )
        assert lift.status_code == 403
    assert attendance.active_suspension(patient.id, now=utcnow()) is not None


def test_desk_staff_list_the_active_suspensions_of_their_hospital_only(world: World) -> None:
    from hospital.errors import Forbidden

    _account, patient = world.add_patient()
    _account, lifted = world.add_patient()
    suspend(world, patient)
    suspend(world, lifted).lifted_at = utcnow()
    elsewhere = factories.create_hospital(code="ELSEWHERE")
    stranger = factories.create_patient(elsewhere, name="外院")
    db.session.add(
        BookingSuspension(
            hospital_id=elsewhere.id,
            patient_id=stranger.id,
            starts_at=utcnow(),
            ends_at=utcnow() + timedelta(days=30),
            strikes=3,
        )
    )
    db.session.flush()
    listed = attendance.active_suspensions(actor=world.registrar, now=utcnow())
    assert [p.id for _s, p in listed] == [patient.id]
    nurse = factories.create_account(world.hospital, roles=(Role.NURSE,))
    with pytest.raises(Forbidden):
        attendance.active_suspensions(actor=nurse, now=utcnow())


def test_an_extra_session_with_no_room_and_no_usual_room_is_refused_with_a_message(
    client: Any, world: World
) -> None:
    sign_in(client, world.admin)
    page = client.get("/admin/schedule/extra-sessions").get_data(as_text=True)
    assert 'name="service_point_id"' in page
    response = client.post(
        "/admin/schedule/extra-sessions", data=extra_form(world, service_point_id="")
    )
    assert response.status_code == 422
    assert "诊室" in response.get_data(as_text=True)
    assert count(ClinicSession) == 0
    wrong = client.post(
        "/admin/schedule/extra-sessions", data=extra_form(world, service_point_id="99999999")
    )
    assert wrong.status_code == 422
    assert count(ClinicSession) == 0
