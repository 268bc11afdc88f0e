"""Checking in at a kiosk: by QR, by phone and code, by identity number; bad input issues nothing."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from pypdf import PdfReader

from hospital.db import db, utcnow
from queueing.models import Ticket
from scheduling.appointment_codes import appointment_code
from scheduling.models import Appointment, AppointmentState
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.factories import daytime_zone
from tests.support.kiosk_factories import book, create_clinic, create_kiosk, qr_for


def _tickets() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0


def _kiosk_sms(phone: str) -> str:
    from hospital.notifications.models import OutboxMessage

    body = db.session.scalar(
        sa.select(OutboxMessage.body)
        .where(OutboxMessage.recipient == phone, OutboxMessage.template == "kiosk_code")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    assert body is not None
    found = re.search(r"\b(\d{6})\b", body)
    assert found
    return found.group(1)


def test_a_patient_who_checks_in_twice_gets_one_ticket(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    code = qr_for(app, appointment)

    first = kiosk_client.post("/api/v1/kiosk/check-in", json={"code": code}, headers=world.headers)
    assert first.status_code == 200, first.get_json()
    second = kiosk_client.post("/api/v1/kiosk/check-in", json={"code": code}, headers=world.headers)
    assert second.status_code == 200

    one, two = first.get_json(), second.get_json()
    assert one["new"] is True and two["new"] is False
    assert one["token"] == two["token"] and one["code"] == two["code"]
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Ticket)
            .where(Ticket.appointment_id == appointment.id)
        )
        == 1
    )
    assert db.session.get(Appointment, appointment.id).state is AppointmentState.CHECKED_IN
    # The slip: number, masked name (never the full name), room, people ahead, QR of the page.
    slip = one["slip_html"]
    assert one["code"] in slip
    assert "张*明" in slip and "张三明" not in slip
    assert world.clinic.point.room in slip
    assert 'data-slip-ahead="0"' in slip
    assert "<svg" in slip
    assert one["url"].endswith("/q/" + one["token"])


def test_the_ticket_pdf_is_80_mm_wide_and_says_the_number(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    ticket = kiosk_client.post(
        "/api/v1/kiosk/check-in", json={"code": qr_for(app, appointment)}, headers=world.headers
    ).get_json()

    response = kiosk_client.get(ticket["pdf_url"], headers=world.headers)

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    width_mm = float(reader.pages[0].mediabox.width) / 72 * 25.4
    assert abs(width_mm - 80) < 1
    text = reader.pages[0].extract_text()
    assert ticket["code"] in text
    assert "张*明" in text
    assert "张三明" not in text
    # The QR codes (the ticket's page and the visit code) are there, as images.
    assert len(reader.pages[0].images) >= 1


def test_a_cancelled_appointment_is_refused_in_plain_words(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow(), state=AppointmentState.CANCELLED)
    db.session.commit()

    response = kiosk_client.post(
        "/api/v1/kiosk/check-in", json={"code": qr_for(app, appointment)}, headers=world.headers
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "appointment_cancelled"
    assert response.get_json()["message"]
    assert _tickets() == 0


def test_an_appointment_of_another_day_is_refused(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    tomorrow = create_clinic(world.hospital, now=utcnow(), day_offset=1)
    appointment = book(tomorrow, world.patient, now=utcnow() + timedelta(days=1))
    db.session.commit()

    response = kiosk_client.post(
        "/api/v1/kiosk/check-in", json={"code": qr_for(app, appointment)}, headers=world.headers
    )

    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "appointment_other_day"
    assert appointment.local_date.isoformat() in body["message"]
    assert _tickets() == 0
    assert db.session.get(Appointment, appointment.id).state is AppointmentState.BOOKED


def test_unknown_and_edited_codes_are_refused(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    edited = qr_for(app, appointment).replace(f".{appointment.id}.", f".{appointment.id + 1}.")
    for code in ("https://example.com/some/other/code", edited, "   "):
        response = kiosk_client.post(
            "/api/v1/kiosk/check-in", json={"code": code}, headers=world.headers
        )
        # A code we did not sign names no appointment.
        assert response.status_code == 404, code
        assert response.get_json()["code"] == "unknown_code"
        assert response.get_json()["message"]
    assert _tickets() == 0


def test_another_hospitals_code_is_refused(
    app: Any, kiosk_client: Any, world: KioskWorld, create_hospital: Any, create_patient: Any
) -> None:
    other = create_hospital(timezone=daytime_zone(utcnow()))
    clinic = create_clinic(other, now=utcnow())
    appointment = book(clinic, create_patient(other), now=utcnow())
    db.session.commit()

    response = kiosk_client.post(
        "/api/v1/kiosk/check-in", json={"code": qr_for(app, appointment)}, headers=world.headers
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "other_hospital_code"
    # Nor by its number with this hospital's proof.
    response = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={"appointment_id": appointment.id, "id_number": world.patient.id_number},
        headers=world.headers,
    )
    assert response.status_code == 404
    assert _tickets() == 0


def test_phone_and_texted_code_find_todays_appointment(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    phone = world.patient.phone

    sent = kiosk_client.post(
        "/api/v1/kiosk/codes", json={"phone": phone, "language": "en"}, headers=world.headers
    )
    assert sent.status_code == 201, sent.get_json()
    assert sent.get_json()["masked_phone"] == phone[:3] + "****" + phone[-4:]
    code = _kiosk_sms(phone)
    wrong = "000000" if code != "000000" else "111111"

    refused = kiosk_client.post(
        "/api/v1/kiosk/codes/verify", json={"phone": phone, "code": wrong}, headers=world.headers
    )
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "code_wrong"
    assert "4" in refused.get_json()["message"]  # tries left
    assert _tickets() == 0

    verified = kiosk_client.post(
        "/api/v1/kiosk/codes/verify", json={"phone": phone, "code": code}, headers=world.headers
    )
    assert verified.status_code == 200, verified.get_json()
    body = verified.get_json()
    assert [a["appointment_id"] for a in body["appointments"]] == [appointment.id]
    assert body["appointments"][0]["masked_name"] == "张*明"

    ticket = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={"appointment_id": appointment.id, "confirmation": body["confirmation"]},
        headers=world.headers,
    )
    assert ticket.status_code == 200
    assert ticket.get_json()["new"] is True
    # A used code cannot be used again.
    again = kiosk_client.post(
        "/api/v1/kiosk/codes/verify", json={"phone": phone, "code": code}, headers=world.headers
    )
    assert again.status_code == 401


def test_a_wrong_code_counts_even_though_the_request_failed(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    from hospital.accounts.models import CodePurpose, OneTimeCode

    phone = world.patient.phone
    kiosk_client.post("/api/v1/kiosk/codes", json={"phone": phone}, headers=world.headers)
    code = _kiosk_sms(phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        kiosk_client.post(
            "/api/v1/kiosk/codes/verify",
            json={"phone": phone, "code": wrong},
            headers=world.headers,
        )
    db.session.expire_all()
    row = db.session.scalars(sa.select(OneTimeCode).where(OneTimeCode.phone == phone)).one()
    assert row.purpose is CodePurpose.KIOSK_CONFIRM
    assert row.attempts == 5
    locked = kiosk_client.post(
        "/api/v1/kiosk/codes/verify", json={"phone": phone, "code": code}, headers=world.headers
    )
    assert locked.status_code == 401
    assert locked.get_json()["code"] == "code_locked"


def test_a_confirmation_from_another_kiosk_is_refused(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    from kiosk.services.identity import confirmation_token

    appointment = book(world.clinic, world.patient, now=utcnow())
    other_device, _token = create_kiosk(world.hospital, now=utcnow(), name="Kiosk 2")
    db.session.commit()
    response = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={
            "appointment_id": appointment.id,
            "confirmation": confirmation_token(other_device.id, world.patient.phone),
        },
        headers=world.headers,
    )
    assert response.status_code == 401
    assert _tickets() == 0


def test_identity_number_lists_todays_appointments_and_checks_in(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()

    found = kiosk_client.post(
        "/api/v1/kiosk/appointments",
        json={"id_number": world.patient.id_number.lower()},
        headers=world.headers,
    )
    assert found.status_code == 200, found.get_json()
    assert [a["appointment_id"] for a in found.get_json()["appointments"]] == [appointment.id]

    ticket = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={"appointment_id": appointment.id, "id_number": world.patient.id_number},
        headers=world.headers,
    )
    assert ticket.status_code == 200
    assert ticket.get_json()["code"]


def test_a_bad_identity_number_says_what_to_fix(kiosk_client: Any, world: KioskWorld) -> None:
    response = kiosk_client.post(
        "/api/v1/kiosk/appointments", json={"id_number": "12"}, headers=world.headers
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_identity_number"
    unknown = kiosk_client.post(
        "/api/v1/kiosk/appointments",
        json={"id_number": "11010519491231002X"},
        headers=world.headers,
    )
    # Issue 12 (#9): an unknown number answers as a known one with nothing today (no probing).
    assert unknown.status_code == 404
    assert unknown.get_json()["code"] == "no_appointment_today"


def test_extra_fields_are_refused(app: Any, kiosk_client: Any, world: KioskWorld) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    response = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={"code": qr_for(app, appointment), "status": "serving"},
        headers=world.headers,
    )
    assert response.status_code == 422
    assert _tickets() == 0


def test_only_a_kiosk_may_check_in(app: Any, kiosk_client: Any, world: KioskWorld) -> None:
    from hospital.accounts.services import devices

    appointment = book(world.clinic, world.patient, now=utcnow())
    _board, board_token = devices.register_device(
        actor=None,
        kind="display_board",
        name="Board",
        location="",
        service_point_id=None,
        now=utcnow(),
        hospital=world.hospital,
    )
    db.session.commit()
    code = appointment_code(str(app.config["SECRET_KEY"]), world.hospital.id, appointment.id)
    anonymous = kiosk_client.post(
        "/api/v1/kiosk/check-in", json={"code": code}, headers={"X-Requested-With": "t"}
    )
    assert anonymous.status_code == 401
    board = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={"code": code},
        headers={"Authorization": f"Bearer {board_token}"},
    )
    assert board.status_code == 403
    assert _tickets() == 0
