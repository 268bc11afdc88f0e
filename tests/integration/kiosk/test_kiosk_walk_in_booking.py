"""A walk-in takes the department's next slot today and pays it from the phone (sandbox)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.billing.models import Order, Payment
from hospital.billing.services import settlement
from hospital.db import db, utcnow
from scheduling.models import Appointment, AppointmentState
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.billing_factories import sandbox_notification
from tests.support.kiosk_factories import confirm_phone


def _confirm_phone(client: Any, world: KioskWorld) -> str:
    return confirm_phone(client, world.headers, world.patient.phone)


def test_a_walk_in_pays_the_next_slot_from_the_phone_then_gets_the_ticket(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    world.clinic.session.fee_fen = 1500
    db.session.commit()
    confirmation = _confirm_phone(kiosk_client, world)

    listed = kiosk_client.get("/api/v1/kiosk/walk-in/departments", headers=world.headers).get_json()
    assert listed[0]["slot_today"] is True and listed[0]["queue"] is False
    booked = kiosk_client.post(
        "/api/v1/kiosk/walk-in/book",
        json={"department_id": world.clinic.department.id, "confirmation": confirmation},
        headers=world.headers,
    )
    assert booked.status_code == 201, booked.get_json()
    booking = booked.get_json()
    assert booking["fee"] == "15.00"
    assert "/billing/sandbox/checkout/" in booking["pay_url"]
    assert "<svg" in booking["pay_qr"]
    status_url = f"/api/v1/kiosk/walk-in/bookings/{booking['appointment_id']}"

    waiting = kiosk_client.post(
        status_url, json={"confirmation": confirmation}, headers=world.headers
    )
    assert waiting.get_json() == {"paid": False, "ticket": None}

    # The patient pays on the phone; the sandbox provider notifies us.
    order = db.session.scalars(
        sa.select(Order).where(Order.reference == f"appointment:{booking['appointment_id']}")
    ).one()
    payment = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).one()
    body, headers = sandbox_notification(payment, now=utcnow())
    assert settlement.handle_notification("sandbox", headers, body, now=utcnow()).accepted
    db.session.commit()

    paid = kiosk_client.post(status_url, json={"confirmation": confirmation}, headers=world.headers)
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["paid"] is True
    assert paid.get_json()["ticket"]["code"]
    db.session.expire_all()
    assert (
        db.session.get(Appointment, booking["appointment_id"]).state is AppointmentState.CHECKED_IN
    )


def test_a_free_walk_in_slot_is_booked_at_once(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    confirmation = _confirm_phone(kiosk_client, world)
    booked = kiosk_client.post(
        "/api/v1/kiosk/walk-in/book",
        json={"department_id": world.clinic.department.id, "confirmation": confirmation},
        headers=world.headers,
    ).get_json()
    assert booked["pay_url"] == ""
    status = kiosk_client.post(
        f"/api/v1/kiosk/walk-in/bookings/{booked['appointment_id']}",
        json={"confirmation": confirmation},
        headers=world.headers,
    ).get_json()
    assert status["paid"] is True and status["ticket"]["new"] is True


def test_booking_needs_a_confirmed_phone(kiosk_client: Any, world: KioskWorld) -> None:
    response = kiosk_client.post(
        "/api/v1/kiosk/walk-in/book",
        json={"department_id": world.clinic.department.id, "confirmation": "forged"},
        headers=world.headers,
    )
    assert response.status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 0


def test_a_walk_in_slot_can_be_booked_for_a_family_member_of_the_phone(
    app: Any, kiosk_client: Any, world: KioskWorld, create_patient: Any
) -> None:
    from hospital.accounts.models import Account
    from hospital.patients.models import Relationship

    account = db.session.scalars(
        sa.select(Account).where(Account.phone == world.patient.phone)
    ).one()
    father = create_patient(
        world.hospital, account=account, relationship=Relationship.PARENT, name="张建国", phone=None
    )
    db.session.commit()
    confirmation = _confirm_phone(kiosk_client, world)
    booked = kiosk_client.post(
        "/api/v1/kiosk/walk-in/book",
        json={
            "department_id": world.clinic.department.id,
            "confirmation": confirmation,
            "patient_id": father.id,
        },
        headers=world.headers,
    )
    assert booked.status_code == 201, booked.get_json()
    appointment = db.session.get(Appointment, booked.get_json()["appointment_id"])
    assert appointment.patient_id == father.id
    assert appointment.account_id == account.id  # booked by the phone's account
