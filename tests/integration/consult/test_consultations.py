"""Ask a doctor after a visit, pay, get an answer in time or the fee back; decline; follow-ups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from consult.models import Consultation, ConsultStatus
from consult.services import answering, asking, deadlines
from hospital.audit.models import AuditEntry
from hospital.billing.models import OrderStatus, Refund
from hospital.db import db
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.notifications.models import OutboxMessage
from tests.support.auth import sign_in
from tests.support.billing_factories import pay_in_sandbox
from tests.support.consult_factories import ConsultWorld, factories_link, fee_order, offer


def _ask(world: ConsultWorld, **kw: Any) -> Consultation:
    values: dict[str, Any] = {
        "actor": world.daughter,
        "patient_id": world.father.id,
        "clinician_id": world.doctor.id,
        "question": "报告说谷丙转氨酶偏高，需要怎么办？",
        "emergency_acknowledged": False,
        "now": world.now,
    }
    values.update(kw)
    return asking.ask(**values)


def _paid(world: ConsultWorld) -> Consultation:
    consultation = _ask(world)
    assert consultation.order_id is not None
    pay_in_sandbox(fee_order(consultation.order_id), world.daughter, now=world.now)
    db.session.expire_all()
    found = db.session.get(Consultation, consultation.id)
    assert found is not None
    return found


def _messages(template: str) -> list[OutboxMessage]:
    return list(
        db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == template))
    )


# ---- eligibility ------------------------------------------------------------------------


def test_a_doctor_who_saw_the_patient_lately_may_be_asked_by_the_daughter(world: ConsultWorld):
    consultation = _ask(world)
    assert consultation.status is ConsultStatus.AWAITING_PAYMENT
    order = fee_order(consultation.order_id or 0)
    assert order.total_fen == 2000  # the hospital's default fee
    assert order.reference == f"consultation:{consultation.id}"
    assert order.patient_id == world.father.id


def test_a_doctor_who_never_saw_the_patient_is_refused_unless_open_to_all(world: ConsultWorld):
    with pytest.raises(Forbidden):
        _ask(world, clinician_id=world.other_doctor.id)
    offer(world.other_doctor, open_to_all=True, fee_fen=5000)
    assert _ask(world, clinician_id=world.other_doctor.id).fee_fen == 5000


def test_a_visit_longer_ago_than_the_window_does_not_count(world: ConsultWorld, app: Any):
    app.config["CONSULT_RECENT_VISIT_DAYS"] = 3
    try:
        with pytest.raises(Forbidden):
            _ask(world)
    finally:
        app.config["CONSULT_RECENT_VISIT_DAYS"] = 30


def test_a_doctor_who_switched_consultations_off_takes_none(world: ConsultWorld):
    offer(world.doctor, is_offered=False)
    with pytest.raises(Forbidden):
        _ask(world)


def test_the_daily_cap_refuses_the_next_question(world: ConsultWorld):
    offer(world.doctor, daily_cap=1)
    _ask(world)
    with pytest.raises(Forbidden):
        _ask(world)


def test_a_family_account_without_the_paying_right_cannot_ask(world: ConsultWorld):
    from tests.support import factories

    son = factories.create_account(world.hospital)
    factories_link(world.hospital, son, world.father, can_pay=False)
    with pytest.raises(NotFound):
        _ask(world, actor=son)


def test_a_stranger_cannot_ask_for_the_patient(world: ConsultWorld):
    with pytest.raises(NotFound):
        _ask(world, actor=world.stranger)


# ---- payment and answer -------------------------------------------------------------------


def test_paying_the_fee_opens_the_question_with_its_deadline(world: ConsultWorld):
    consultation = _paid(world)
    assert consultation.status is ConsultStatus.OPEN
    assert consultation.answer_due_at is not None
    assert consultation.answer_due_at - consultation.paid_at == timedelta(hours=24)


def test_the_answer_notifies_the_patient_and_the_daughter(world: ConsultWorld):
    consultation = _paid(world)
    answering.reply(
        consultation.id, actor=world.doctor_account, body="复查肝功能，少饮酒。", now=world.now
    )
    db.session.flush()
    assert consultation.status is ConsultStatus.ANSWERED
    recipients = {m.recipient for m in _messages("consult.answered")}
    assert {world.father_account.phone, world.daughter.phone} <= recipients


def test_another_doctor_cannot_reply(world: ConsultWorld):
    from hospital.accounts.models import Role
    from tests.support import factories

    consultation = _paid(world)
    other_account = factories.create_account(world.hospital, roles=(Role.CLINICIAN,))
    world.other_doctor.account_id = other_account.id
    db.session.flush()
    with pytest.raises(NotFound):
        answering.reply(consultation.id, actor=other_account, body="x", now=world.now)


def test_follow_ups_are_limited_and_the_conversation_closes(world: ConsultWorld, app: Any):
    consultation = _paid(world)
    with pytest.raises(Conflict):  # not answered yet
        answering.follow_up(consultation.id, actor=world.daughter, body="还有", now=world.now)
    answering.reply(consultation.id, actor=world.doctor_account, body="好", now=world.now)
    limit = app.config["CONSULT_MAX_FOLLOW_UPS"]
    for n in range(limit):
        answering.follow_up(consultation.id, actor=world.daughter, body=f"问{n}", now=world.now)
    with pytest.raises(Conflict):
        answering.follow_up(consultation.id, actor=world.daughter, body="再问", now=world.now)
    later = world.now + timedelta(hours=app.config["CONSULT_CONVERSATION_HOURS"], minutes=1)
    assert deadlines.sweep(now=later).closed == 1
    assert consultation.status is ConsultStatus.CLOSED


def test_the_patient_side_may_close_an_answered_consultation(world: ConsultWorld):
    consultation = _paid(world)
    answering.reply(consultation.id, actor=world.doctor_account, body="好", now=world.now)
    answering.close(consultation.id, actor=world.daughter, now=world.now)
    assert consultation.status is ConsultStatus.CLOSED


# ---- the promise ------------------------------------------------------------------------


def test_an_unanswered_question_is_refunded_once_by_the_sweep(world: ConsultWorld):
    consultation = _paid(world)
    db.session.commit()
    late = (consultation.answer_due_at or world.now) + timedelta(minutes=1)
    assert deadlines.sweep(now=late - timedelta(minutes=2)).refunded == 0
    assert deadlines.sweep(now=late).refunded == 1
    assert deadlines.sweep(now=late).refunded == 0  # idempotent
    db.session.expire_all()
    order = fee_order(consultation.order_id or 0)
    assert order.status is OrderStatus.REFUNDED
    refunds = list(db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)))
    assert sum(r.amount_fen for r in refunds) == 2000
    assert db.session.get(Consultation, consultation.id).status is ConsultStatus.REFUNDED  # type: ignore[union-attr]
    assert _messages("consult.refunded")
    with pytest.raises(Conflict):
        answering.reply(consultation.id, actor=world.doctor_account, body="晚了", now=late)


def test_the_scheduled_job_runs_the_sweep(world: ConsultWorld):
    from consult.jobs import JOBS

    consultation = _paid(world)
    job = next(j for j in JOBS if j.id == "consult.sweep")
    result = job.func(now=(consultation.answer_due_at or world.now) + timedelta(seconds=1))
    assert result.refunded == 1


def test_declining_refunds_in_full_and_tells_the_family(world: ConsultWorld):
    consultation = _paid(world)
    with pytest.raises(InvalidInput):
        answering.decline(consultation.id, actor=world.doctor_account, reason=" ", now=world.now)
    answering.decline(consultation.id, actor=world.doctor_account, reason="需要面诊", now=world.now)
    db.session.expire_all()
    assert fee_order(consultation.order_id or 0).status is OrderStatus.REFUNDED
    assert {m.recipient for m in _messages("consult.declined")} >= {world.daughter.phone}
    assert deadlines.sweep(now=world.now + timedelta(days=3)).refunded == 0


def test_an_unpaid_question_lapses_and_a_late_payment_is_refunded(world: ConsultWorld):
    consultation = _ask(world)
    order = fee_order(consultation.order_id or 0)
    from tests.support.billing_factories import (
        deliver_sandbox_notification,
        succeeded_sandbox_payment,
    )

    payment = succeeded_sandbox_payment(order, world.daughter, now=world.now)
    db.session.commit()
    later = (consultation.pay_by or world.now) + timedelta(minutes=1)
    assert deadlines.sweep(now=later).expired == 1
    deliver_sandbox_notification(payment, now=later)
    db.session.expire_all()
    assert db.session.get(Consultation, consultation.id).status is ConsultStatus.EXPIRED  # type: ignore[union-attr]
    refunded = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    assert sum(r.amount_fen for r in refunded) == 2000


# ---- HTTP ---------------------------------------------------------------------------------


def test_the_api_asks_pays_answers_and_audits_the_doctors_read(client: Any, world: ConsultWorld):
    sign_in(client, world.daughter)
    offers = client.get(f"/api/v1/consult/offers?patient_id={world.father.id}")
    assert offers.status_code == 200
    assert [o["clinician_id"] for o in offers.json] == [world.doctor.id]
    assert offers.json[0]["saw_patient"] is True
    asked = client.post(
        "/api/v1/consult/consultations",
        json={
            "patient_id": world.father.id,
            "clinician_id": world.doctor.id,
            "question": "What should I do about the high ALT?",
        },
    )
    assert asked.status_code == 201, asked.json
    consultation_id = asked.json["id"]
    assert asked.json["status"] == "awaiting_payment"
    assert asked.json["masked_name"] != world.father.name
    pay_in_sandbox(fee_order(asked.json["order_id"]), world.daughter, now=world.now)
    db.session.commit()

    sign_in(client, world.doctor_account)
    inbox = client.get("/api/v1/consult/inbox")
    assert [c["id"] for c in inbox.json] == [consultation_id]
    answered = client.post(
        f"/api/v1/consult/consultations/{consultation_id}/replies",
        json={"body": "Repeat the liver test in two weeks.", "come_back": True},
    )
    assert answered.status_code == 201, answered.json
    assert answered.json["status"] == "answered"
    assert answered.json["messages"][0]["come_back"] is True
    audited = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.actor_account_id == world.doctor_account.id,
            AuditEntry.patient_id == world.father.id,
            AuditEntry.action == "consult.inbox.read",
        )
    ).all()
    assert audited

    sign_in(client, world.daughter)
    thread = client.get(f"/api/v1/consult/consultations/{consultation_id}")
    assert thread.status_code == 200
    assert thread.headers["Cache-Control"] == "no-store"
    assert thread.json["messages"][0]["from_clinician"] is True


def test_a_stranger_gets_404_and_the_refusal_is_audited(client: Any, world: ConsultWorld):
    consultation = _paid(world)
    db.session.commit()
    sign_in(client, world.stranger)
    response = client.get(f"/api/v1/consult/consultations/{consultation.id}")
    assert response.status_code == 404
    denied = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.actor_account_id == world.stranger.id,
            AuditEntry.action == "consult.read",
            AuditEntry.outcome == "denied",
        )
    ).all()
    assert denied


def test_a_red_flag_question_needs_the_emergency_warning_read_first(
    client: Any, world: ConsultWorld
):
    sign_in(client, world.daughter)
    body = {
        "patient_id": world.father.id,
        "clinician_id": world.doctor.id,
        "question": "爸爸突然胸痛，出冷汗",
    }
    refused = client.post("/api/v1/consult/consultations", json=body)
    assert refused.status_code == 422
    assert refused.json["code"] == "consult_emergency_warning"
    assert db.session.scalar(sa.select(sa.func.count(Consultation.id))) == 0
    english = client.post(
        "/api/v1/consult/consultations", json={**body, "question": "He has chest pain"}
    )
    assert english.status_code == 422
    sent = client.post(
        "/api/v1/consult/consultations", json={**body, "emergency_acknowledged": True}
    )
    assert sent.status_code == 201


def test_a_clinician_sets_their_own_terms_and_not_anothers(client: Any, world: ConsultWorld):
    sign_in(client, world.doctor_account)
    terms = {
        "is_offered": True,
        "open_to_all": True,
        "fee_fen": 1500,
        "answer_hours": 6,
        "daily_cap": 5,
    }
    own = client.put(f"/api/v1/consult/clinicians/{world.doctor.id}/settings", json=terms)
    assert own.status_code == 200, own.json
    assert own.json["fee_fen"] == 1500
    read = client.get(f"/api/v1/consult/clinicians/{world.doctor.id}/settings")
    assert read.status_code == 200 and read.json["answer_hours"] == 6
    other = client.put(f"/api/v1/consult/clinicians/{world.other_doctor.id}/settings", json=terms)
    assert other.status_code == 403


def test_the_doctor_with_a_phone_is_texted_a_new_paid_question(world: ConsultWorld):
    world.doctor_account.phone = "13911112222"
    db.session.flush()
    _paid(world)
    (message,) = _messages("consult.new_question")
    assert message.recipient == "13911112222"
