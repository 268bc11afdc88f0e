"""Consultations are part of the patient's record: the visit timeline, and who opened it."""

from __future__ import annotations

from typing import Any

from consult.services import answering, reading
from hospital.visits.services import hospital_day, visit_for
from journey import services as journey
from journey.steps import EntryKind
from tests.support.consult_factories import ConsultWorld
from tests.support.consult_flow import paid_question


def test_the_visit_timeline_shows_the_question_and_the_answer(world: ConsultWorld) -> None:
    consultation = paid_question(world)
    answering.reply(consultation.id, actor=world.doctor_account, body="好", now=world.now)
    visit = visit_for(
        hospital_id=world.hospital.id,
        patient_id=world.father.id,
        service_date=hospital_day(world.hospital.id, world.now),
        now=world.now,
    )
    view = journey.view_of(visit, world.father, now=world.now)
    kinds = [e.kind for e in view.timeline]
    assert EntryKind.CONSULT_ASKED in kinds and EntryKind.CONSULT_ANSWERED in kinds


def test_the_doctors_reads_are_named_in_who_opened_my_records(
    world: ConsultWorld, client: Any
) -> None:
    from tests.support.auth import sign_in

    consultation = paid_question(world)
    reading.case(consultation.id, actor=world.doctor_account, now=world.now)
    from hospital.db import db

    db.session.commit()
    sign_in(client, world.father_account)
    client.get("/language/en")
    page = client.get("/my-records/access")
    assert page.status_code == 200, page.status_code
    assert "Read your recent visits and reports beside your online question" in page.get_data(
        as_text=True
    )
