"""Kiosk devices, printing, walk-ins, reprints, help requests, limits and hospital boundaries."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from kiosk.models import HelpRequest, PrinterState
from queueing.models import Ticket
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.auth import sign_in
from tests.support.factories import daytime_zone
from tests.support.kiosk_factories import book, create_clinic, create_kiosk, kiosk_row, qr_for
from tests.support.kiosk_printer import closed_port, thermal_printer
from tests.support.queueing_factories import open_queue


def _check_in(app: Any, client: Any, world: KioskWorld) -> dict[str, Any]:
    appointment = book(world.clinic, world.patient, now=utcnow())
    db.session.commit()
    response = client.post(
        "/api/v1/kiosk/check-in", json={"code": qr_for(app, appointment)}, headers=world.headers
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ---- printing ---------------------------------------------------------------------------


def test_without_a_network_printer_the_browser_prints(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    ticket = _check_in(app, kiosk_client, world)
    response = kiosk_client.post(
        f"/api/v1/kiosk/tickets/{ticket['token']}/print", headers=world.headers
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "printed": False,
        "by_browser": True,
        "printer_state": "browser",
        "message": "",
    }


def test_the_network_printer_receives_the_ticket(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    ticket = _check_in(app, kiosk_client, world)
    with thermal_printer() as printer:
        row = kiosk_row(world.device)
        row.printer_host, row.printer_port = printer.host, printer.port
        db.session.commit()
        response = kiosk_client.post(
            f"/api/v1/kiosk/tickets/{ticket['token']}/print", headers=world.headers
        )
        assert printer.done.wait(10)
    assert response.get_json()["printed"] is True
    assert ticket["code"].encode() in bytes(printer.received)
    assert ticket["url"].encode() in bytes(printer.received)
    db.session.expire_all()
    assert kiosk_row(world.device).printer_state is PrinterState.READY


@pytest.mark.parametrize(
    ("status", "state"),
    [(None, PrinterState.OFFLINE), (b"\x72", PrinterState.PAPER_OUT)],
)
def test_a_printer_problem_is_said_in_plain_words_and_the_ticket_stays(
    app: Any, kiosk_client: Any, world: KioskWorld, status: bytes | None, state: PrinterState
) -> None:
    ticket = _check_in(app, kiosk_client, world)
    row = kiosk_row(world.device)
    if status is None:
        row.printer_host, row.printer_port = "127.0.0.1", closed_port()
        db.session.commit()
        response = kiosk_client.post(
            f"/api/v1/kiosk/tickets/{ticket['token']}/print", headers=world.headers
        )
    else:
        with thermal_printer(status=status) as printer:
            row.printer_host, row.printer_port = printer.host, printer.port
            db.session.commit()
            response = kiosk_client.post(
                f"/api/v1/kiosk/tickets/{ticket['token']}/print", headers=world.headers
            )
    assert response.status_code == 200
    body = response.get_json()
    assert body["printed"] is False and body["printer_state"] == state.value
    assert body["message"]
    db.session.expire_all()
    assert kiosk_row(world.device).printer_state is state
    # The ticket exists regardless: the screen keeps showing it with its QR.
    assert db.session.scalar(sa.select(Ticket).where(Ticket.token == ticket["token"])) is not None


# ---- walk-ins and reprints ----------------------------------------------------------------


def test_a_walk_in_gets_a_ticket_in_the_departments_open_queue(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    open_queue(world.clinic.point, now=utcnow())
    db.session.commit()
    listed = kiosk_client.get("/api/v1/kiosk/walk-in/departments", headers=world.headers)
    assert listed.status_code == 200
    assert [d["department_id"] for d in listed.get_json()] == [world.clinic.department.id]

    first = kiosk_client.post(
        "/api/v1/kiosk/walk-in",
        json={"department_id": world.clinic.department.id},
        headers=world.headers,
    )
    second = kiosk_client.post(
        "/api/v1/kiosk/walk-in",
        json={"department_id": world.clinic.department.id, "id_number": world.patient.id_number},
        headers=world.headers,
    )
    assert first.status_code == 201 and second.status_code == 201, second.get_json()
    assert first.get_json()["ahead"] == 0
    assert second.get_json()["ahead"] == 1
    assert "张*明" in second.get_json()["slip_html"]


def test_a_department_without_an_open_queue_takes_no_walk_ins(
    kiosk_client: Any, world: KioskWorld
) -> None:
    response = kiosk_client.post(
        "/api/v1/kiosk/walk-in",
        json={"department_id": world.clinic.department.id},
        headers=world.headers,
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "no_walk_in_queue"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_reprint_gives_the_patients_latest_ticket(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    ticket = _check_in(app, kiosk_client, world)
    response = kiosk_client.post(
        "/api/v1/kiosk/reprint", json={"id_number": world.patient.id_number}, headers=world.headers
    )
    assert response.status_code == 200
    assert response.get_json()["token"] == ticket["token"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_reprint_without_a_ticket_today_says_so(kiosk_client: Any, world: KioskWorld) -> None:
    response = kiosk_client.post(
        "/api/v1/kiosk/reprint", json={"id_number": world.patient.id_number}, headers=world.headers
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "no_ticket_today"


# ---- limits -----------------------------------------------------------------------------


def test_ticket_issue_is_limited_per_kiosk(
    app: Any, kiosk_client: Any, world: KioskWorld, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "KIOSK_TICKETS_PER_MINUTE", 2)
    open_queue(world.clinic.point, now=utcnow())
    db.session.commit()
    answers = [
        kiosk_client.post(
            "/api/v1/kiosk/walk-in",
            json={"department_id": world.clinic.department.id},
            headers=world.headers,
        )
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].get_json()["code"] == "kiosk_rate_limited"
    assert answers[2].headers["Retry-After"] == "60"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 2
    # Another kiosk is not held back by this one.
    _other, token = create_kiosk(world.hospital, now=utcnow(), name="Kiosk 2")
    db.session.commit()
    other = kiosk_client.post(
        "/api/v1/kiosk/walk-in",
        json={"department_id": world.clinic.department.id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert other.status_code == 201


def test_code_sending_is_limited_per_kiosk(
    app: Any, kiosk_client: Any, world: KioskWorld, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "KIOSK_CODES_PER_MINUTE", 2)
    codes = [
        kiosk_client.post(
            "/api/v1/kiosk/codes", json={"phone": f"1390000{n:04d}"}, headers=world.headers
        ).status_code
        for n in range(3)
    ]
    assert codes == [201, 201, 429]


# ---- hospital boundaries ------------------------------------------------------------------


def test_a_kiosk_of_one_hospital_is_refused_at_anothers(
    app: Any,
    kiosk_client: Any,
    world: KioskWorld,
    create_hospital: Any,
    create_patient: Any,
    create_account: Any,
) -> None:
    other = create_hospital(timezone=daytime_zone(utcnow()))
    other_clinic = create_clinic(other, now=utcnow())
    other_patient = create_patient(other, name="李四")
    appointment = book(other_clinic, other_patient, now=utcnow())
    open_queue(other_clinic.point, now=utcnow())
    other_device, other_token = create_kiosk(other, now=utcnow())
    db.session.commit()
    theirs = kiosk_client.post(
        "/api/v1/kiosk/check-in",
        json={"code": qr_for(app, appointment)},
        headers={"Authorization": f"Bearer {other_token}"},
    ).get_json()

    ours = world.headers
    assert (
        kiosk_client.post(
            f"/api/v1/kiosk/tickets/{theirs['token']}/print", headers=ours
        ).status_code
        == 404
    )
    assert (
        kiosk_client.get(
            f"/api/v1/kiosk/tickets/{theirs['token']}/ticket.pdf", headers=ours
        ).status_code
        == 404
    )
    assert (
        kiosk_client.post(
            "/api/v1/kiosk/reprint", json={"id_number": other_patient.id_number}, headers=ours
        ).status_code
        == 404
    )
    assert (
        kiosk_client.post(
            "/api/v1/kiosk/walk-in",
            json={"department_id": other_clinic.department.id},
            headers=ours,
        ).status_code
        == 404
    )
    # Staff of the other hospital neither see nor resolve this kiosk's help requests.
    help_request = kiosk_client.post("/api/v1/kiosk/help", headers=ours).get_json()
    nurse = create_account(other, roles=(Role.NURSE,))
    sign_in(kiosk_client, nurse)
    assert kiosk_client.get("/api/v1/kiosk/help-requests").get_json() == []
    assert [k["device_id"] for k in kiosk_client.get("/api/v1/kiosk/devices").get_json()] == [
        other_device.id
    ]
    refused = kiosk_client.post(
        f"/api/v1/kiosk/help-requests/{help_request['id']}/resolve", json={}
    )
    assert refused.status_code == 404


# ---- devices and help requests ------------------------------------------------------------


def test_an_admin_registers_a_kiosk_whose_token_then_works(
    kiosk_client: Any, world: KioskWorld, create_account: Any
) -> None:
    admin = create_account(world.hospital, roles=(Role.ADMIN,))
    sign_in(kiosk_client, admin)
    response = kiosk_client.post(
        "/api/v1/kiosk/devices",
        json={
            "name": "Hall kiosk 3",
            "location": "Hall, west door",
            "printer_host": "192.168.1.50",
            "printer_port": 9100,
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["printer"] == "192.168.1.50:9100" and body["printer_state"] == "unknown"
    with kiosk_client.session_transaction() as session:
        session.clear()
    beat = kiosk_client.post(
        "/api/v1/kiosk/heartbeat", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert beat.status_code == 200
    assert beat.get_json()["ok"] is True


def test_only_admins_register_kiosks_and_bad_printer_addresses_are_refused(
    kiosk_client: Any, world: KioskWorld, create_account: Any
) -> None:
    nurse = create_account(world.hospital, roles=(Role.NURSE,))
    sign_in(kiosk_client, nurse)
    refused = kiosk_client.post("/api/v1/kiosk/devices", json={"name": "K", "location": "Hall"})
    assert refused.status_code == 403
    admin = create_account(world.hospital, roles=(Role.ADMIN,))
    sign_in(kiosk_client, admin)
    bad = kiosk_client.post(
        "/api/v1/kiosk/devices",
        json={"name": "K", "location": "Hall", "printer_host": "no spaces; please"},
    )
    assert bad.status_code == 422
    assert bad.get_json()["code"] == "invalid_printer_host"
    port = kiosk_client.post(
        "/api/v1/kiosk/devices", json={"name": "K", "location": "Hall", "printer_port": 70000}
    )
    assert port.status_code == 422


def test_call_staff_shows_on_the_console_with_the_kiosks_location(
    kiosk_client: Any, world: KioskWorld, create_account: Any
) -> None:
    first = kiosk_client.post("/api/v1/kiosk/help", headers=world.headers)
    again = kiosk_client.post("/api/v1/kiosk/help", headers=world.headers)
    assert first.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]  # pressing twice: one request

    nurse = create_account(world.hospital, roles=(Role.NURSE,))
    sign_in(kiosk_client, nurse)
    listed = kiosk_client.get("/api/v1/kiosk/help-requests").get_json()
    assert [r["location"] for r in listed] == [world.device.location]
    page = kiosk_client.get("/kiosk/console?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert world.device.location in html
    assert world.device.name in html

    resolved = kiosk_client.post(
        f"/api/v1/kiosk/help-requests/{first.get_json()['id']}/resolve", json={}
    )
    assert resolved.status_code == 200
    assert kiosk_client.get("/api/v1/kiosk/help-requests").get_json() == []
    assert db.session.get(HelpRequest, first.get_json()["id"]).resolved_by_account_id == nurse.id


def test_the_console_lists_last_contact_and_printer_state(
    kiosk_client: Any, world: KioskWorld, create_account: Any
) -> None:
    kiosk_client.post("/api/v1/kiosk/heartbeat", headers=world.headers)
    nurse = create_account(world.hospital, roles=(Role.NURSE,))
    sign_in(kiosk_client, nurse)
    (row,) = kiosk_client.get("/api/v1/kiosk/devices").get_json()
    assert row["last_contact_at"] is not None
    assert row["printer_state"] == "browser"
    patient = create_account(world.hospital)
    sign_in(kiosk_client, patient)
    assert kiosk_client.get("/api/v1/kiosk/devices").status_code == 403
    assert kiosk_client.get("/kiosk/console").status_code == 403


def test_the_kiosk_page_needs_a_paired_kiosk(kiosk_client: Any, world: KioskWorld) -> None:
    assert kiosk_client.get("/kiosk").status_code == 302
    wrong = kiosk_client.post("/kiosk/setup", data={"token": "not-a-token"})
    assert wrong.status_code == 422
    paired = kiosk_client.post("/kiosk/setup", data={"token": world.token})
    assert paired.status_code == 302
    assert "device_token=" in paired.headers["Set-Cookie"]
    assert "HttpOnly" in paired.headers["Set-Cookie"]
    page = kiosk_client.get("/kiosk?lang=en")
    assert page.status_code == 200
    assert 'data-idle-seconds="60"' in page.get_data(as_text=True)


def test_an_admin_registers_a_kiosk_on_the_console_page(
    kiosk_client: Any, world: KioskWorld, create_account: Any
) -> None:
    admin = create_account(world.hospital, roles=(Role.ADMIN,))
    sign_in(kiosk_client, admin)
    page = kiosk_client.post(
        "/kiosk/console/register?lang=en",
        data={
            "name": "Hall kiosk 9",
            "location": "Hall, north",
            "printer_host": "",
            "printer_port": "9100",
        },
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = html.split('data-new-token="')[1].split('"')[0]
    assert "Hall kiosk 9" in html and "Hall, north" in html
    with kiosk_client.session_transaction() as session:
        session.clear()
    assert (
        kiosk_client.post(
            "/api/v1/kiosk/heartbeat", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


def test_the_prune_jobs_forget_old_codes_and_activity(kiosk_client: Any, world: KioskWorld) -> None:
    from datetime import timedelta

    from hospital.accounts.jobs import prune_one_time_codes
    from hospital.accounts.models import OneTimeCode
    from kiosk.jobs import prune
    from kiosk.models import KioskActivity

    kiosk_client.post(
        "/api/v1/kiosk/codes", json={"phone": world.patient.phone}, headers=world.headers
    )
    assert prune(now=utcnow()) == 0 and prune_one_time_codes(now=utcnow()) == 0
    assert prune(now=utcnow() + timedelta(days=2)) == 1  # the code's activity row
    assert prune_one_time_codes(now=utcnow() + timedelta(days=2)) == 1  # the code
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OneTimeCode)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KioskActivity)) == 0
