"""The printed ticket reuses the slip its check-in just built: nothing is read twice, and nothing
the slip says goes stale (people ahead after a change in the queue, the route after a map edit)."""

from __future__ import annotations

import io
from typing import Any

import sqlalchemy as sa
from pypdf import PdfReader

from hospital.db import db, utcnow
from hospital.guide.services import maps
from queueing.services import calling
from scheduling.models import Slot
from tests.integration.kiosk.conftest import KioskWorld
from tests.integration.kiosk.test_map_cache import _map
from tests.support import queueing_factories as qf
from tests.support.kiosk_factories import book, qr_for
from tests.support.statements import sent_statements


def _check_in(app: Any, client: Any, world: KioskWorld, patient: Any) -> dict[str, Any]:
    appointment = book(world.clinic, patient, now=utcnow())
    db.session.commit()
    answer = client.post(
        "/api/v1/kiosk/check-in", json={"code": qr_for(app, appointment)}, headers=world.headers
    )
    assert answer.status_code == 200, answer.get_json()
    return dict(answer.get_json())


def _pdf_text(client: Any, world: KioskWorld, ticket: dict[str, Any]) -> str:
    response = client.get(ticket["pdf_url"], headers=world.headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return str(PdfReader(io.BytesIO(response.data)).pages[0].extract_text())


def test_the_pdf_prints_the_slip_its_check_in_built_without_reading_it_again(
    app: Any, kiosk_client: Any, world: KioskWorld
) -> None:
    maps.replace_map(
        world.hospital.id, _map(world.clinic.point.code, metres=12), actor=None, now=utcnow()
    )
    db.session.commit()
    ticket = _check_in(app, kiosk_client, world, world.patient)
    assert "data-slip-route" in ticket["slip_html"]

    with sent_statements() as seen:
        text = _pdf_text(kiosk_client, world, ticket)

    read = " ".join(seen).lower()
    for table in ("patient", "visit", "map_node", "map_edge", "ticket_event", "hospital"):
        assert f"from {table} " not in read, f"the PDF read {table} again"
    assert ticket["code"] in text and "张*明" in text and "张三明" not in text
    assert world.patient.id_number not in text
    assert "12 m" in text  # the route: "Walk about 12 m to your destination."
    assert "前面还有 0 人" in text and "0 ahead of you" in text
    assert "扫码查看排队进度" in text and "Scan to follow your place" in text
    # The screen's slip tells a screen reader each half's language; the paper needs no tags.
    assert '<span lang="en">Scan to follow your place</span>' in ticket["slip_html"]


def test_a_change_in_the_queue_gives_the_paper_the_new_count(
    app: Any, kiosk_client: Any, world: KioskWorld, create_patient: Any
) -> None:
    db.session.execute(
        sa.update(Slot).where(Slot.session_id == world.clinic.session.id).values(capacity=5)
    )
    first = _check_in(app, kiosk_client, world, world.patient)
    second = _check_in(
        app, kiosk_client, world, create_patient(world.hospital, name="李四光", phone=None)
    )
    assert second["ahead"] == 1
    assert "前面还有 1 人" in _pdf_text(kiosk_client, world, second)

    counter = qf.create_counter(world.clinic.point)
    called = calling.call_next(
        actor=None, hospital_id=world.hospital.id, counter_id=counter.id, now=utcnow()
    )
    assert called.ticket is not None and called.ticket.code == first["code"]
    db.session.commit()

    assert "前面还有 0 人" in _pdf_text(kiosk_client, world, second)


def test_an_edited_map_gives_the_next_slip_its_new_route(
    app: Any, kiosk_client: Any, world: KioskWorld, create_account: Any
) -> None:
    point = world.clinic.point
    maps.replace_map(world.hospital.id, _map(point.code, metres=12), actor=None, now=utcnow())
    db.session.commit()
    ticket = _check_in(app, kiosk_client, world, world.patient)
    assert "12 m" in ticket["slip_html"] and "12 m" in _pdf_text(kiosk_client, world, ticket)

    maps.replace_map(world.hospital.id, _map(point.code, metres=37), actor=None, now=utcnow())
    db.session.commit()

    # The same ticket printed again, and the route anyone asks for, take the new way.
    text = _pdf_text(kiosk_client, world, ticket)
    assert "37 m" in text and "12 m" not in text
    assert maps.route_between(world.hospital.id, to_point=point.code).route.length_m == 37
