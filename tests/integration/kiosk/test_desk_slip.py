"""A walk-in without a phone, where a fee is due: a slip for the registration desk, printed on the
kiosk's printer (or by its browser); no ticket, no order, nothing personal."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.billing.models import Order
from hospital.db import db, utcnow
from kiosk.models import WalkIn
from queueing.models import Ticket
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.billing_factories import create_registration_fee
from tests.support.kiosk_factories import kiosk_row
from tests.support.kiosk_printer import thermal_printer
from tests.support.queueing_factories import open_queue


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _slip(client: Any, world: KioskWorld, department_id: int) -> Any:
    return client.post(
        "/api/v1/kiosk/walk-in/desk-slip",
        json={"department_id": department_id},
        headers=world.headers,
    )


def test_a_desk_slip_names_the_department_and_fee_and_the_browser_prints_it(
    kiosk_client: Any, world: KioskWorld
) -> None:
    open_queue(world.clinic.point, now=utcnow())
    create_registration_fee(world.hospital, fee_class="general", amount_fen=1200)
    db.session.commit()

    response = _slip(kiosk_client, world, world.clinic.department.id)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    department = world.clinic.department
    assert body["department_zh"] == department.name_zh
    assert body["department_en"] == department.name_en
    assert body["fee"] == "12.00"
    assert body["by_browser"] is True and body["printer_state"] == "browser"
    assert len(body["issued_at"]) == len("2026-12-01 10:05")
    # Only a slip: no ticket, no walk-in, no order.
    assert _count(Ticket) == 0 and _count(WalkIn) == 0 and _count(Order) == 0


def test_the_network_printer_receives_the_desk_slip(kiosk_client: Any, world: KioskWorld) -> None:
    open_queue(world.clinic.point, now=utcnow())
    create_registration_fee(world.hospital, fee_class="general", amount_fen=800)
    with thermal_printer() as printer:
        row = kiosk_row(world.device)
        row.printer_host, row.printer_port = printer.host, printer.port
        db.session.commit()
        response = _slip(kiosk_client, world, world.clinic.department.id)
        assert printer.done.wait(10)
    assert response.get_json()["printed"] is True
    received = bytes(printer.received)
    assert world.clinic.department.name_zh.encode("gb18030") in received
    assert b"8.00" in received and b"Registration slip" in received


def test_a_department_taking_no_walk_ins_gets_no_slip(
    kiosk_client: Any, world: KioskWorld, create_department: Any
) -> None:
    closed = create_department(world.hospital)
    db.session.commit()
    response = _slip(kiosk_client, world, closed.id)
    assert response.status_code == 404
    assert response.get_json()["code"] == "no_walk_in_queue"


def test_only_a_kiosk_prints_a_desk_slip(kiosk_client: Any, world: KioskWorld) -> None:
    response = kiosk_client.post(
        "/api/v1/kiosk/walk-in/desk-slip", json={"department_id": world.clinic.department.id}
    )
    assert response.status_code in (401, 403)


def test_the_desk_scans_the_slips_code_and_gives_a_number_in_the_slips_department(
    app: Any, kiosk_client: Any, world: KioskWorld, create_account: Any, create_service_point: Any
) -> None:
    """End to end: the kiosk's slip carries a QR code; the desk scans it into its lookup field
    (whatever queue is selected there) and the walk-in gets a number in the slip's department."""
    from hospital.accounts.models import Role
    from tests.support.auth import sign_in

    open_queue(world.clinic.point, now=utcnow())
    other = create_service_point(world.hospital)
    open_queue(other, now=utcnow())
    create_registration_fee(world.hospital, fee_class="general", amount_fen=1200)
    db.session.commit()
    body = _slip(kiosk_client, world, world.clinic.department.id).get_json()
    code = body["code"]
    assert code.startswith("HDS1.") and "<svg" in body["code_qr"]

    desk = app.test_client()
    sign_in(desk, create_account(world.hospital, roles=(Role.REGISTRAR,)))
    answer = desk.post(
        "/queueing/desk", data={"service_point_id": str(other.id), "patient_number": code}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    (ticket,) = db.session.scalars(sa.select(Ticket)).all()
    assert ticket.patient_id is None  # a walk-in without a phone: nothing personal
    assert ticket.queue.service_point_id == world.clinic.point.id
    shown = desk.get(answer.headers["Location"]).get_data(as_text=True)
    assert f'data-issued="{ticket.code}"' in shown


def test_the_desk_refuses_an_edited_or_foreign_slip_code(
    app: Any, kiosk_client: Any, world: KioskWorld, create_account: Any, create_hospital: Any
) -> None:
    from hospital.accounts.models import Role
    from queueing.desk_slips import desk_slip_code
    from tests.support.auth import sign_in

    open_queue(world.clinic.point, now=utcnow())
    create_registration_fee(world.hospital, fee_class="general", amount_fen=1200)
    db.session.commit()
    code = _slip(kiosk_client, world, world.clinic.department.id).get_json()["code"]
    desk = app.test_client()
    sign_in(desk, create_account(world.hospital, roles=(Role.REGISTRAR,)))
    key = str(app.config["SECRET_KEY"])
    point = world.clinic.point.id
    edited = code[:-1] + ("0" if code[-1] != "0" else "1")
    elsewhere = desk_slip_code(key, world.hospital.id + 1000, point, utcnow())
    from datetime import timedelta

    old = desk_slip_code(key, world.hospital.id, point, utcnow() - timedelta(days=1))
    for bad, words in (
        (edited, "not a desk slip of this hospital"),
        (elsewhere, "not a desk slip of this hospital"),
        (old, "from an earlier day"),
    ):
        answer = desk.post(
            "/queueing/desk?lang=en", data={"service_point_id": str(point), "patient_number": bad}
        )
        assert answer.status_code == 422
        assert words in answer.get_data(as_text=True)
    assert _count(Ticket) == 0
    # Read with caps lock on, the genuine code still works.
    upper = desk.post(
        "/queueing/desk", data={"service_point_id": str(point), "patient_number": code.upper()}
    )
    assert upper.status_code == 302
