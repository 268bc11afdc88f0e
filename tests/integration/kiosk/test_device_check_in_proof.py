"""A device checks in through the queueing API only with the appointment's QR code (issue 12, #3)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from queueing.models import Ticket
from scheduling.models import AppointmentState
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.auth import sign_in
from tests.support.kiosk_factories import book, qr_for

URL = "/api/v1/queueing/check-in"


def _tickets() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0


def _audit(action: str, outcome: str = "success") -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.outcome == outcome)
            .order_by(AuditEntry.id)
        )
    )


def test_a_kiosk_token_cannot_check_in_an_appointment_by_its_id(
    kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    response = kiosk_client.post(
        URL, json={"appointment_id": appointment.id}, headers=world.headers
    )
    assert response.status_code == 403, response.get_json()
    body = response.get_json()
    assert body["code"] == "proof_required" and "二维码" in body["message"]  # its QR code
    assert "link" not in body and "token" not in body
    db.session.expire_all()
    assert _tickets() == 0 and appointment.state is AppointmentState.BOOKED
    denied = _audit("queue.check_in", "denied")
    assert [(d.device_id, d.object_id) for d in denied] == [(world.device.id, str(appointment.id))]


def test_a_kiosk_checks_in_with_the_appointments_code_audited_like_the_kiosk(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    response = kiosk_client.post(
        URL, json={"code": qr_for(app, appointment)}, headers=world.headers
    )
    assert response.status_code == 200, response.get_json()
    ticket = db.session.scalars(sa.select(Ticket)).one()
    assert ticket.appointment_id == appointment.id
    assert response.get_json()["link"].endswith(f"/q/{ticket.token}")
    entries = _audit("kiosk.check_in")
    assert len(entries) == 1 and entries[0].patient_id == world.patient.id
    assert entries[0].detail["device_id"] == world.device.id


def test_a_forged_code_checks_in_nothing(kiosk_client: Any, world: KioskWorld) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    response = kiosk_client.post(
        URL, json={"code": f"H1-A{appointment.id}-forged"}, headers=world.headers
    )
    assert response.status_code == 404  # a code we did not sign names no appointment
    assert response.get_json()["code"] == "unknown_code"
    assert _tickets() == 0


def test_device_check_ins_are_rate_limited_per_kiosk(
    app: Any, kiosk_client: Any, world: KioskWorld, monkeypatch: Any
) -> None:
    # The kiosk's own ticket limit counts these check-ins too; at 0 the first is refused.
    monkeypatch.setitem(app.config, "KIOSK_TICKETS_PER_MINUTE", 0)
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    limited = kiosk_client.post(URL, json={"code": qr_for(app, appointment)}, headers=world.headers)
    assert limited.status_code == 429
    assert limited.get_json()["code"] == "kiosk_rate_limited"
    assert limited.headers["Retry-After"] == "60"
    assert _tickets() == 0


def test_code_or_id_but_not_both_nor_neither(kiosk_client: Any, world: KioskWorld) -> None:
    for body in ({}, {"appointment_id": 1, "code": "x"}):
        response = kiosk_client.post(URL, json=body, headers=world.headers)
        assert response.status_code == 422, body


@pytest.mark.parametrize("role", [Role.REGISTRAR, Role.NURSE, Role.ADMIN])
def test_staff_who_check_in_may_do_so_by_id_and_it_is_audited(
    client: Any, world: KioskWorld, create_account: Any, role: Role
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    staff = create_account(world.hospital, roles=(role,))
    db.session.commit()
    sign_in(client, staff)
    response = client.post(
        URL, json={"appointment_id": appointment.id}, headers={"X-Requested-With": "t"}
    )
    assert response.status_code == 200, response.get_json()
    entries = _audit("queue.check_in")
    assert [(e.actor_account_id, e.patient_id) for e in entries] == [(staff.id, world.patient.id)]
    assert entries[0].detail["appointment_id"] == appointment.id


@pytest.mark.parametrize("role", [Role.CASHIER, Role.LAB])
def test_other_staff_roles_cannot_check_in(
    client: Any, world: KioskWorld, create_account: Any, role: Role
) -> None:
    appointment = book(world.clinic, world.patient, now=utcnow())
    staff = create_account(world.hospital, roles=(role,))
    db.session.commit()
    sign_in(client, staff)
    response = client.post(
        URL, json={"appointment_id": appointment.id}, headers={"X-Requested-With": "t"}
    )
    assert response.status_code == 403 and response.get_json()["code"] == "role_required"
    assert _tickets() == 0
    assert [e.actor_account_id for e in _audit("queue.check_in", "denied")] == [staff.id]


def test_the_openapi_document_says_a_device_needs_the_code(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/queueing/check-in"]["post"]
    text = str(operation)
    assert "code" in text and "QR code" in text and "403" in operation["responses"]
