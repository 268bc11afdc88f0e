"""A reply renews a prescription or orders a lab test: an order paid online gives a station number."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from consult.services import answering
from hospital.billing.models import ItemCategory, Order, OrderStatus
from hospital.billing.services.orders import ItemRequest
from hospital.db import db
from hospital.organisation.models import ServicePointKind
from queueing.models import StationTicket, Ticket, TicketStatus
from tests.support import factories
from tests.support.billing_factories import create_fee_item, pay_in_sandbox
from tests.support.consult_factories import ConsultWorld
from tests.support.consult_flow import paid_question


def test_a_renewed_prescription_paid_by_the_daughter_gives_a_pharmacy_number(
    world: ConsultWorld,
) -> None:
    factories.create_service_point(world.hospital, kind=ServicePointKind.PHARMACY, code="PHA")
    factories.create_service_point(world.hospital, kind=ServicePointKind.LAB_DRAW, code="LAB")
    medicine = create_fee_item(world.hospital, price_fen=3600, category=ItemCategory.MEDICINE)
    test = create_fee_item(world.hospital, price_fen=2500, category=ItemCategory.LAB_TEST)
    consultation = paid_question(world)
    message = answering.reply(
        consultation.id,
        actor=world.doctor_account,
        body="续开一个月；两周后复查肝功能。",
        prescription_items=[ItemRequest(medicine.id, 1)],
        lab_items=[ItemRequest(test.id, 1)],
        now=world.now,
    )
    assert message.prescription_order_id is not None and message.lab_order_id is not None
    prescription = db.session.get(Order, message.prescription_order_id)
    assert prescription is not None
    assert prescription.patient_id == world.father.id
    assert prescription.visit_key == f"consultation:{consultation.id}"
    assert prescription.total_fen == 3600
    pay_in_sandbox(prescription, world.daughter, now=world.now)
    db.session.expire_all()
    assert db.session.get(Order, prescription.id).status is OrderStatus.PAID  # type: ignore[union-attr]
    links = list(
        db.session.scalars(
            sa.select(StationTicket).where(StationTicket.order_id == prescription.id)
        )
    )
    assert [link.station.value for link in links] == ["pharmacy"]
    ticket = db.session.get(Ticket, links[0].ticket_id)
    assert ticket is not None and ticket.patient_id == world.father.id
    assert ticket.status is TicketStatus.WAITING


def test_an_item_outside_the_fee_schedule_is_refused_and_nothing_is_written(
    world: ConsultWorld, client: Any
) -> None:
    from tests.support.auth import sign_in

    consultation = paid_question(world)
    db.session.commit()
    sign_in(client, world.doctor_account)
    response = client.post(
        f"/api/v1/consult/consultations/{consultation.id}/replies",
        json={"body": "续开", "prescription": [{"fee_item_id": 987654}]},
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(type(consultation), consultation.id).messages == []  # type: ignore[union-attr]
