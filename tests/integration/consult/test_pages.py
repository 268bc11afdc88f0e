"""The phone pages: ask (with the emergency warning), pay, read the thread; the doctor's inbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from consult.models import Consultation, ConsultStatus
from hospital.audit.models import AuditEntry
from hospital.billing.models import ItemCategory
from hospital.db import db
from tests.support.auth import sign_in
from tests.support.billing_factories import create_fee_item, pay_in_sandbox
from tests.support.consult_factories import ConsultWorld, fee_order


def _ask_page(client: Any, world: ConsultWorld, question: str, **extra: str) -> Any:
    return client.post(
        f"/consult/ask/{world.father.id}",
        data={"clinician_id": str(world.doctor.id), "question": question, **extra},
    )


def test_the_daughter_asks_from_the_phone_and_is_sent_to_pay(client: Any, world: ConsultWorld):
    sign_in(client, world.daughter)
    page = client.get(f"/consult/ask/{world.father.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-not-for-emergencies" in html
    assert world.father.name not in html  # masked
    sent = _ask_page(client, world, "报告说谷丙转氨酶偏高，怎么办？")
    assert sent.status_code == 302
    consultation = db.session.scalar(sa.select(Consultation))
    assert consultation is not None
    assert sent.headers["Location"].endswith(f"/billing/orders/{consultation.order_id}/pay")


def test_a_red_flag_question_shows_the_emergency_warning_first(client: Any, world: ConsultWorld):
    sign_in(client, world.daughter)
    warned = _ask_page(client, world, "He has chest pain and is sweating")
    assert warned.status_code == 200
    html = warned.get_data(as_text=True)
    assert "data-emergency-warning" in html and "120" in html
    assert db.session.scalar(sa.select(sa.func.count(Consultation.id))) == 0
    sent = _ask_page(
        client, world, "He has chest pain and is sweating", emergency_acknowledged="yes"
    )
    assert sent.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Consultation.id))) == 1


def test_the_page_speaks_english_too(client: Any, world: ConsultWorld):
    sign_in(client, world.daughter)
    client.get("/language/en")
    html = client.get(f"/consult/ask/{world.father.id}").get_data(as_text=True)
    assert "Online consultations are not for emergencies" in html
    client.get("/language/zh")
    html = client.get(f"/consult/ask/{world.father.id}").get_data(as_text=True)
    assert "在线咨询不适用于急症" in html


def test_a_stranger_cannot_open_the_ask_page_for_the_father(client: Any, world: ConsultWorld):
    sign_in(client, world.stranger)
    assert client.get(f"/consult/ask/{world.father.id}").status_code == 404


def test_the_doctor_answers_from_the_inbox_and_renews_a_prescription(
    client: Any, world: ConsultWorld
):
    medicine = create_fee_item(
        world.hospital, price_fen=3600, category=ItemCategory.MEDICINE, name_zh="阿托伐他汀"
    )
    sign_in(client, world.daughter)
    _ask_page(client, world, "降脂药快吃完了，能续开吗？")
    consultation = db.session.scalar(sa.select(Consultation))
    assert consultation is not None
    pay_in_sandbox(fee_order(consultation.order_id or 0), world.daughter, now=world.now)
    db.session.commit()

    sign_in(client, world.doctor_account)
    inbox = client.get("/staff/consult")
    assert inbox.status_code == 200
    assert f'data-consultation="{consultation.id}"' in inbox.get_data(as_text=True)
    case = client.get(f"/consult/{consultation.id}")
    html = case.get_data(as_text=True)
    assert "data-patient-context" in html and "data-recent-visit" in html
    assert case.headers["Cache-Control"] == "no-store"
    read = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "consult.case.read",
            AuditEntry.actor_account_id == world.doctor_account.id,
            AuditEntry.patient_id == world.father.id,
        )
    )
    assert read is not None
    answered = client.post(
        f"/staff/consult/{consultation.id}/reply",
        data={"body": "可以，续开一个月。", "medicine": str(medicine.id)},
    )
    assert answered.status_code == 302
    db.session.expire_all()
    consultation = db.session.get(Consultation, consultation.id)
    assert consultation is not None and consultation.status is ConsultStatus.ANSWERED
    order_id = consultation.messages[0].prescription_order_id
    assert order_id is not None

    sign_in(client, world.daughter)
    thread = client.get(f"/consult/{consultation.id}").get_data(as_text=True)
    assert f'data-order="{order_id}"' in thread and "data-pay-order" in thread
