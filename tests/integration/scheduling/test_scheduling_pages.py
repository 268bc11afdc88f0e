"""The booking pages: department search, choose a time, confirm, my appointments, staff and admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import g

from hospital.billing.jobs import deliver_sandbox_notifications
from hospital.db import db, utcnow
from scheduling.models import Appointment, AppointmentState, SessionTemplate, Slot
from tests.integration.scheduling.conftest import World
from tests.support.auth import sign_in
from tests.support.billing_factories import client_transport
from tests.support.scheduling_factories import create_clinic_session, set_rules, slots_of


def switch_to(client: Any, account: Any) -> None:
    g.pop("_login_user", None)
    g.pop("hospital", None)
    sign_in(client, account)


def upcoming(world: World, **kw: Any) -> Any:
    day = (utcnow() + timedelta(hours=8)).date() + timedelta(days=2)
    kw.setdefault("release_at", utcnow() - timedelta(hours=1))
    return create_clinic_session(world.clinician, local_date=day, **kw)


@pytest.fixture
def patient(client: Any, world: World) -> Any:
    sign_in(client, world.accounts[0])
    return client


def test_departments_are_found_by_pinyin_initials(patient: Any, world: World) -> None:
    page = patient.get("/book?q=nk").get_data(as_text=True)
    assert f'data-department="{world.department.id}"' in page
    page = patient.get("/book?q=xyz").get_data(as_text=True)
    assert "data-no-departments" in page


def test_the_a_to_z_index_shows_the_departments_of_one_pinyin_initial(
    patient: Any, world: World, create_department: Any
) -> None:
    eyes = create_department(
        world.hospital, name_zh="眼科", name_en="Ophthalmology", pinyin_initials="yk"
    )
    children = create_department(
        world.hospital, name_zh="儿科", name_en="Paediatrics", pinyin_initials=""
    )
    db.session.commit()
    page = patient.get("/book?lang=zh").get_data(as_text=True)
    assert "data-letter-index" in page
    for letter in ("E", "N", "Y"):  # 儿科, 内科 (the world's), 眼科: a link each
        assert f'data-letter="{letter}"' in page
    assert 'data-letter="B"' not in page  # no department starts with B: no link
    by_y = patient.get("/book?letter=y").get_data(as_text=True)
    assert f'data-department="{eyes.id}"' in by_y
    assert f'data-department="{world.department.id}"' not in by_y
    assert f'data-department="{children.id}"' not in by_y
    assert 'data-letter="Y" aria-current="true"' in by_y
    assert 'data-letter=""' in by_y  # the way back to every department
    # Initials computed from the Chinese name when none were stored.
    by_e = patient.get("/book?letter=E").get_data(as_text=True)
    assert f'data-department="{children.id}"' in by_e and f'data-department="{eyes.id}"' not in by_e
    # An unknown letter is ignored: every department.
    every = patient.get("/book?letter=%3C").get_data(as_text=True)
    assert all(f'data-department="{d.id}"' in every for d in (eyes, children, world.department))


def test_a_patient_books_through_the_pages(
    patient: Any, world: World, app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "BILLING_SANDBOX_MAX_DELAY_S", 0)
    session = upcoming(world, capacity=2, fee_fen=5000)
    slot = slots_of(session)[0]
    days = patient.get(f"/book/departments/{world.department.id}").get_data(as_text=True)
    assert f'data-session="{session.id}"' in days
    slots_page = patient.get(f"/book/sessions/{session.id}").get_data(as_text=True)
    assert f'data-slot="{slot.id}"' in slots_page
    held = patient.post(
        f"/book/sessions/{session.id}/hold",
        data={"slot_id": slot.id, "patient_id": world.patients[0].id},
    )
    assert held.status_code == 302
    confirm_url = held.headers["Location"]
    confirm_page = patient.get(confirm_url).get_data(as_text=True)
    assert "data-countdown" in confirm_page and "¥50.00" in confirm_page
    # A fee-bearing time is confirmed by paying: the confirm step leads to billing's pay page.
    done = patient.post(confirm_url)
    assert done.status_code == 302 and "/billing/orders/" in done.headers["Location"]
    (appointment,) = db.session.scalars(sa.select(Appointment)).all()
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.HELD
    checkout = patient.post(done.headers["Location"], data={"provider": "sandbox"})
    assert checkout.status_code == 302
    patient.post(urlsplit(checkout.headers["Location"]).path, data={"outcome": "success"})
    deliver_sandbox_notifications(client_transport(patient), now=utcnow())
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.BOOKED
    mine = patient.get("/appointments").get_data(as_text=True)
    assert f'data-appointment="{appointment.id}"' in mine and 'data-action="calendar"' in mine
    # The one code shown is the visit's (就诊码); the appointment's own code is no longer shown.
    assert 'data-check-in-code="V-' in mine and "HQA1." not in mine


def test_holding_without_choosing_shows_the_form_again(patient: Any, world: World) -> None:
    session = upcoming(world)
    response = patient.post(f"/book/sessions/{session.id}/hold", data={})
    assert response.status_code == 422
    assert "data-form-error" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 0


def test_a_taken_slot_is_explained_on_the_page(patient: Any, world: World) -> None:
    session = upcoming(world, capacity=1)
    slot = slots_of(session)[0]
    db.session.execute(sa.update(Slot).where(Slot.id == slot.id).values(booked=1))
    db.session.commit()  # the page rolls back its own failed work, not the test's set-up
    response = patient.post(
        f"/book/sessions/{session.id}/hold",
        data={"slot_id": slot.id, "patient_id": world.patients[0].id},
    )
    assert response.status_code == 409
    assert "Pick another time" in response.get_data(as_text=True) or "请" in response.get_data(
        as_text=True
    )


def test_staff_day_shows_appointments_and_takes_an_add_on(client: Any, world: World) -> None:
    session = upcoming(world, capacity=1)
    slot = slots_of(session)[0]
    sign_in(client, world.registrar)
    query = f"clinician_id={world.clinician.id}&date={session.local_date.isoformat()}"
    assert "data-no-appointments" in client.get(f"/staff/day?{query}").get_data(as_text=True)
    response = client.post(
        "/staff/add-on",
        data={
            "slot_id": slot.id,
            "medical_record_number": world.patients[1].medical_record_number,
            "reason": "urgent",
            "clinician_id": world.clinician.id,
            "date": session.local_date.isoformat(),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(f"/staff/day?{query}").get_data(as_text=True)
    assert "data-day-list" in page and world.patients[1].name in page


def test_patients_cannot_open_staff_or_admin_pages(patient: Any) -> None:
    assert patient.get("/staff/day").status_code == 403
    assert patient.get("/admin/schedule").status_code == 403


def test_admin_adds_a_weekly_session_and_bad_input_is_explained(client: Any, world: World) -> None:
    sign_in(client, world.admin)
    assert client.get("/admin/schedule").status_code == 200
    good = {
        "clinician_id": world.clinician.id,
        "weekday": "0",
        "start_time": "08:00",
        "end_time": "12:00",
        "slot_minutes": "15",
        "capacity": "2",
        "fee_class": "expert",
        "fee_yuan": "50",
        "booking_opens_days": "14",
        "release_time": "07:00",
        "valid_from": "2026-01-01",
    }
    bad = client.post("/admin/schedule/templates", data={**good, "end_time": "25:00"})
    assert bad.status_code == 422 and "has-error" in bad.get_data(as_text=True)
    assert client.post("/admin/schedule/templates", data=good).status_code == 302
    (template,) = db.session.scalars(sa.select(SessionTemplate)).all()
    assert (template.fee_fen, template.capacity) == (5000, 2)


def _hold_free(patient: Any, world: World, session: Any, index: int = 0) -> Appointment:
    slot = slots_of(session)[index]
    held = patient.post(
        f"/book/sessions/{session.id}/hold",
        data={"slot_id": slot.id, "patient_id": world.patients[0].id},
    )
    assert held.status_code == 302, held.get_data(as_text=True)
    return db.session.scalars(sa.select(Appointment).where(Appointment.slot_id == slot.id)).one()


def test_cancelling_asks_first_and_says_what_happens_to_the_fee(patient: Any, world: World) -> None:
    appointment = _hold_free(patient, world, upcoming(world, capacity=2))
    patient.post(f"/appointments/{appointment.id}/confirm")
    mine = patient.get("/appointments").get_data(as_text=True)
    assert f'href="/appointments/{appointment.id}/cancel" data-action="cancel"' in mine
    asked = patient.get(f"/appointments/{appointment.id}/cancel?lang=en")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    assert "Cancel this appointment?" in page and 'data-action="confirm-cancel"' in page
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.BOOKED  # asking changed nothing
    done = patient.post(f"/appointments/{appointment.id}/cancel")
    assert done.status_code == 302
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.CANCELLED


def test_another_accounts_appointment_has_no_cancel_page(client: Any, world: World) -> None:
    sign_in(client, world.accounts[0])
    appointment = _hold_free(client, world, upcoming(world))
    switch_to(client, world.accounts[1])
    assert client.get(f"/appointments/{appointment.id}/cancel").status_code == 404


def test_my_appointments_list_the_coming_ones_soonest_first(patient: Any, world: World) -> None:
    later = _hold_free(patient, world, upcoming(world, capacity=2))
    sooner_session = create_clinic_session(
        world.clinician,
        local_date=(utcnow() + timedelta(hours=8)).date() + timedelta(days=1),
        release_at=utcnow() - timedelta(hours=1),
    )
    sooner = _hold_free(patient, world, sooner_session)
    page = patient.get("/appointments").get_data(as_text=True)
    assert page.index(f'data-appointment="{sooner.id}"') < page.index(
        f'data-appointment="{later.id}"'
    )


def test_a_booking_past_the_cancellation_cut_off_says_so_before_paying(
    patient: Any, world: World
) -> None:
    # Cut-off 30 days before: any coming session is already past it (as a same-day one is).
    set_rules(world.hospital.id, cancel_cutoff_days_before=30)
    db.session.commit()
    appointment = _hold_free(patient, world, upcoming(world))
    page = patient.get(f"/appointments/{appointment.id}/confirm?lang=en").get_data(as_text=True)
    assert "data-cancel-closed" in page
    assert "can only be cancelled at the registration desk" in page
    fine = _hold_free(patient, world, upcoming(world, capacity=2), index=1)
    set_rules(world.hospital.id, cancel_cutoff_days_before=0)
    db.session.commit()
    page = patient.get(f"/appointments/{fine.id}/confirm?lang=en").get_data(as_text=True)
    assert "data-cancel-closed" not in page and "You can cancel online until" in page


def test_a_department_shows_a_date_strip_and_doctor_cards(patient: Any, world: World) -> None:
    from hospital.organisation.models import ClinicianTitle

    world.clinician.title = ClinicianTitle.CHIEF_PHYSICIAN
    world.clinician.specialty_en = "Hypertension"
    first = upcoming(world, capacity=2)
    later = create_clinic_session(
        world.clinician,
        local_date=first.local_date + timedelta(days=3),
        release_at=utcnow() - timedelta(hours=1),
    )
    db.session.commit()
    url = f"/book/departments/{world.department.id}"
    page = patient.get(f"{url}?lang=en").get_data(as_text=True)
    # Both days are chips; only the first day's doctors are shown, with title and specialty.
    assert f'data-day-chip="{first.local_date.isoformat()}"' in page
    assert f'data-day-chip="{later.local_date.isoformat()}"' in page
    assert f'data-session="{first.id}"' in page and f'data-session="{later.id}"' not in page
    assert "Chief physician" in page and "Specialty: Hypertension" in page
    chosen = patient.get(f"{url}?day={later.local_date.isoformat()}&lang=en").get_data(as_text=True)
    assert f'data-session="{later.id}"' in chosen and f'data-session="{first.id}"' not in chosen
    assert 'aria-current="date"' in chosen
    # A day that is not in the strip falls back to the first day with places.
    odd = patient.get(f"{url}?day=1999-01-01").get_data(as_text=True)
    assert f'data-session="{first.id}"' in odd
