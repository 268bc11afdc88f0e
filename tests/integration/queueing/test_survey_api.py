"""The satisfaction survey: its message goes out a while after the consultation (when due, by
the outbox job), and its REST operation takes the answers once, even from two at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.db import db
from hospital.notifications.models import Channel, DeliveryStatus, OutboxMessage
from hospital.notifications.service import deliver_due
from hospital.unit_of_work import unit_of_work
from queueing.models import SatisfactionSurvey, SurveyVia
from queueing.services import calling, serving, surveys
from reports.models import SatisfactionSummary
from tests.support import factories
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ANSWERS = {"wait_score": 4, "staff_score": 5, "overall_score": 3, "comment": " 等得有点久 "}


class _Phone:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        if "/survey/" in message.body:  # the ticket's own messages are not the subject here
            self.sent.append(message)


def _consultation(hospital: Any, point: Any, patient: Any, *, ended: datetime) -> None:
    counter = qf.create_counter(point, code="S1")
    qf.walk_in(hospital, point, now=ended - timedelta(minutes=20), patient_id=patient.id)
    ids = {"hospital_id": hospital.id, "counter_id": counter.id}
    assert calling.call_next(actor=None, now=ended - timedelta(minutes=10), **ids).ticket
    serving.complete(actor=None, now=ended, **ids)


@pytest.fixture
def clinic(hospital: Any, create_department: Any, create_service_point: Any) -> Any:
    point = create_service_point(hospital, department=create_department(hospital))
    qf.open_queue(point, now=NOW)
    return point


def _survey_message(patient_id: int) -> OutboxMessage:
    return db.session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.patient_id == patient_id, OutboxMessage.template == "queue.survey"
        )
    ).one()


def test_the_survey_message_goes_out_when_the_delay_has_passed(
    app: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    assert app.config["QUEUE_SURVEY_DELAY_MINUTES"] == 30
    patient = create_patient(hospital, account=create_account(hospital))
    _consultation(hospital, clinic, patient, ended=NOW)
    message = _survey_message(patient.id)
    assert message.next_attempt_at == NOW + timedelta(minutes=30)
    phone = _Phone()
    senders = {Channel.SMS: phone, Channel.EMAIL: phone}
    deliver_due(now=NOW + timedelta(minutes=29), senders=senders)
    assert phone.sent == []
    deliver_due(now=NOW + timedelta(minutes=30), senders=senders)
    assert len(phone.sent) == 1
    db.session.expire_all()
    assert _survey_message(patient.id).status is DeliveryStatus.SENT


def test_a_delay_of_zero_sends_the_survey_at_once(
    app: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    app.config["QUEUE_SURVEY_DELAY_MINUTES"] = 0
    try:
        patient = create_patient(hospital, account=create_account(hospital))
        _consultation(hospital, clinic, patient, ended=NOW)
        assert _survey_message(patient.id).next_attempt_at == NOW
    finally:
        app.config["QUEUE_SURVEY_DELAY_MINUTES"] = 30


def test_a_survey_answered_before_its_link_is_due_is_not_sent(
    app: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    # The kiosk's "Tell us about your visit" 10 minutes after the consultation: the link
    # due at 30 minutes would only ask again, so it never goes out.
    patient = create_patient(hospital, account=create_account(hospital))
    _consultation(hospital, clinic, patient, ended=NOW)
    assert _survey_message(patient.id).status is DeliveryStatus.PENDING
    survey = db.session.scalars(sa.select(SatisfactionSurvey)).one()
    surveys.answer(
        survey, surveys.Answers(4, 5, 3, ""), via=SurveyVia.KIOSK, now=NOW + timedelta(minutes=10)
    )
    phone = _Phone()
    deliver_due(now=NOW + timedelta(minutes=31), senders={Channel.SMS: phone, Channel.EMAIL: phone})
    assert phone.sent == []
    remaining = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.template == "queue.survey")
    ).all()
    assert remaining == []


def test_an_answer_after_the_link_went_out_leaves_the_sent_message_alone(
    app: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    patient = create_patient(hospital, account=create_account(hospital))
    _consultation(hospital, clinic, patient, ended=NOW)
    phone = _Phone()
    deliver_due(now=NOW + timedelta(minutes=30), senders={Channel.SMS: phone, Channel.EMAIL: phone})
    survey = db.session.scalars(sa.select(SatisfactionSurvey)).one()
    surveys.answer(
        survey, surveys.Answers(4, 5, 3, ""), via=SurveyVia.LINK, now=NOW + timedelta(hours=2)
    )
    db.session.expire_all()
    assert _survey_message(patient.id).status is DeliveryStatus.SENT


def test_the_api_takes_the_answers_once(
    client: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    patient = create_patient(hospital, account=create_account(hospital))
    _consultation(hospital, clinic, patient, ended=NOW)
    survey = db.session.scalars(sa.select(SatisfactionSurvey)).one()
    token, survey_id = survey.token, survey.id
    db.session.commit()
    url = f"/api/v1/queueing/surveys/{token}/answer"
    # Bad input: 422 saying what to fix, and nothing written.
    for bad in (
        {**ANSWERS, "staff_score": 9},
        {**ANSWERS, "wait_score": "4"},
        {k: v for k, v in ANSWERS.items() if k != "overall_score"},
        {**ANSWERS, "comment": "x" * 501},
        {**ANSWERS, "answered_via": "kiosk"},
    ):
        response = client.post(url, json=bad)
        assert response.status_code == 422, (bad, response.get_json())
    db.session.expire_all()
    assert db.session.get(SatisfactionSurvey, survey_id).answered_at is None
    missing = client.post(
        "/api/v1/queueing/surveys/not-a-real-token-at-all-xx/answer", json=ANSWERS
    )
    assert missing.status_code == 404 and missing.get_json()["code"] == "survey_not_found"
    done = client.post(url, json=ANSWERS)
    assert done.status_code == 201, done.get_json()
    body = done.get_json()
    assert (body["wait_score"], body["staff_score"], body["overall_score"]) == (4, 5, 3)
    assert body["answered_via"] == "link" and body["answered_at"]
    again = client.post(url, json={**ANSWERS, "overall_score": 1})
    assert again.status_code == 409 and again.get_json()["code"] == "survey_answered"
    db.session.expire_all()
    answered = db.session.get(SatisfactionSurvey, survey_id)
    assert (answered.answered_via, answered.overall_score) == (SurveyVia.LINK, 3)
    assert answered.comment == "等得有点久"


def test_two_answers_at_once_store_one(app: Any, committed: None, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL; SQLite serialises writers")
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        department = factories.create_department(hospital)
        point = factories.create_service_point(hospital, department=department)
        qf.open_queue(point, now=NOW)
        patient = factories.create_patient(hospital, account=factories.create_account(hospital))
        _consultation(hospital, point, patient, ended=NOW)
        token = db.session.scalars(sa.select(SatisfactionSurvey.token)).one()
    url = f"/api/v1/queueing/surveys/{token}/answer"
    start = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def answer(overall: int) -> None:
        try:
            client = app.test_client()
            start.wait(60)
            statuses.append(
                client.post(url, json={**ANSWERS, "overall_score": overall}).status_code
            )
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=answer, args=(n,)) for n in (1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(statuses) == [201, 409]
    with app.app_context():
        (survey,) = db.session.scalars(sa.select(SatisfactionSurvey)).all()
        assert survey.answered_at is not None and survey.overall_score in (1, 5)
        summaries = db.session.scalars(sa.select(SatisfactionSummary)).all()
        assert [s.overall_score for s in summaries] == [survey.overall_score]
