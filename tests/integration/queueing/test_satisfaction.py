"""The satisfaction loop: one survey and one message per patient and day after a consultation,
answered once by its link or at the kiosk, counted in the statistics by department and week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.db import db
from hospital.notifications.models import OutboxMessage
from queueing.models import SatisfactionSurvey, SurveyVia
from queueing.services import calling, issuing, serving
from reports import satisfaction
from reports.models import SatisfactionSummary
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in
from tests.support.kiosk_factories import create_kiosk

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
ANSWERS = {"wait_score": "4", "staff_score": "5", "overall_score": "3", "comment": "等得有点久"}


@pytest.fixture
def clinic(hospital: Any, create_department: Any, create_service_point: Any) -> Any:
    point = create_service_point(hospital, department=create_department(hospital))
    qf.open_queue(point, now=NOW)
    return point


def _serve(hospital: Any, point: Any, counter: Any, ticket: Any, at: datetime) -> None:
    ids = {"hospital_id": hospital.id, "counter_id": counter.id}
    called = calling.call_next(actor=None, now=at, **ids)
    assert called.ticket is not None and called.ticket.id == ticket.id
    serving.complete(actor=None, now=at + timedelta(minutes=5), **ids)


def _survey_messages(patient_id: int) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.patient_id == patient_id, OutboxMessage.template == "queue.survey"
            )
        )
    )


def test_one_survey_and_one_message_per_patient_and_day_after_a_consultation(
    hospital: Any,
    clinic: Any,
    create_patient: Any,
    create_account: Any,
    create_service_point: Any,
) -> None:
    own = create_account(hospital)
    patient = create_patient(hospital, account=own, birth_date=date(1940, 5, 1))
    counter = qf.create_counter(clinic)
    lab = create_service_point(hospital, kind="lab_draw")
    qf.open_queue(lab, now=NOW)
    lab_counter = qf.create_counter(lab)
    # A lab draw ends first: no survey yet (the consultation is the visit's end).
    drawn = qf.walk_in(hospital, lab, now=NOW, patient_id=patient.id)
    _serve(hospital, lab, lab_counter, drawn, NOW)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SatisfactionSurvey)) == 0
    first = qf.walk_in(hospital, clinic, now=NOW, patient_id=patient.id)
    _serve(hospital, clinic, counter, first, NOW + timedelta(minutes=10))
    second = qf.walk_in(hospital, clinic, now=NOW, patient_id=patient.id)
    _serve(hospital, clinic, counter, second, NOW + timedelta(minutes=30))
    (survey,) = db.session.scalars(sa.select(SatisfactionSurvey)).all()
    assert (survey.patient_id, survey.ticket_id) == (patient.id, first.id)
    assert survey.department_id == clinic.department_id and survey.answered_at is None
    (message,) = _survey_messages(patient.id)
    assert message.recipient == own.phone and f"/survey/{survey.token}" in message.body
    # A patient without a phone anywhere gets a survey (the kiosk offers it) but no message.
    silent = create_patient(hospital)
    third = qf.walk_in(hospital, clinic, now=NOW, patient_id=silent.id)
    _serve(hospital, clinic, counter, third, NOW + timedelta(minutes=50))
    assert _survey_messages(silent.id) == []


def test_the_family_account_that_booked_gets_the_one_message(
    hospital: Any, clinic: Any, book_at: Any
) -> None:
    appointment, _clinician, slot = book_at(clinic)
    ticket, _ = issuing.check_in(
        actor=None,
        hospital_id=hospital.id,
        appointment_id=appointment.id,
        now=slot.starts_at - timedelta(minutes=5),
    )
    counter = qf.create_counter(clinic, code="9")
    ids = {"hospital_id": hospital.id, "counter_id": counter.id}
    calling.call_next(actor=None, now=slot.starts_at, **ids)
    serving.complete(actor=None, now=slot.starts_at + timedelta(minutes=8), **ids)
    (message,) = _survey_messages(ticket.patient_id)
    from hospital.accounts.models import Account

    booker = db.session.get(Account, appointment.account_id)
    assert message.recipient == booker.phone


def test_the_link_takes_answers_once_and_the_statistics_show_them_to_admins(
    app: Any, client: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    patient = create_patient(hospital, account=create_account(hospital))
    counter = qf.create_counter(clinic)
    ticket = qf.walk_in(hospital, clinic, now=NOW, patient_id=patient.id)
    _serve(hospital, clinic, counter, ticket, NOW)
    survey = db.session.scalars(sa.select(SatisfactionSurvey)).one()
    token = survey.token
    db.session.commit()
    page = client.get(f"/survey/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-form="survey"' in html
    assert html.count('type="radio"') == 15
    assert client.get("/survey/not-a-real-token-at-all-xx").status_code == 404
    # Bad input: a clear 4xx and nothing written.
    bad = client.post(f"/survey/{token}", data={**ANSWERS, "staff_score": "9"})
    assert bad.status_code == 422 and "data-survey-error" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(SatisfactionSurvey, survey.id).answered_at is None
    done = client.post(f"/survey/{token}", data=ANSWERS)
    assert done.status_code == 200 and "data-survey-thanks" in done.get_data(as_text=True)
    again = client.post(f"/survey/{token}", data={**ANSWERS, "overall_score": "1"})
    assert again.status_code == 409 and "data-survey-answered" in again.get_data(as_text=True)
    db.session.expire_all()
    answered = db.session.get(SatisfactionSurvey, survey.id)
    assert (answered.answered_via, answered.overall_score) == (SurveyVia.LINK, 3)
    (row,) = db.session.scalars(sa.select(SatisfactionSummary)).all()
    assert (row.wait_score, row.staff_score, row.overall_score) == (4, 5, 3)

    day = NOW.date()
    figures = satisfaction.satisfaction(hospital, start=day, end=day, language="en")
    (week,) = figures.rows
    assert week.week == date(2026, 3, 2) and (week.answers, week.overall) == (1, 3.0)
    assert [c.text for c in figures.comments] == ["等得有点久"]
    nurse = create_account(hospital, roles=(Role.NURSE,))
    admin = create_account(hospital, roles=(Role.ADMIN,))
    db.session.commit()
    sign_in(client, nurse)
    assert client.get("/reports/statistics?start=2026-03-02&end=2026-03-02").status_code == 403
    sign_in(client, admin)
    stats = client.get("/reports/statistics?start=2026-03-02&end=2026-03-02")
    html = stats.get_data(as_text=True)
    assert "data-satisfaction-table" in html and "等得有点久" in html


def test_the_kiosk_offers_the_same_survey_for_a_scanned_ticket(
    client: Any, hospital: Any, clinic: Any, create_patient: Any, create_account: Any
) -> None:
    patient = create_patient(hospital, account=create_account(hospital))
    counter = qf.create_counter(clinic)
    ticket = qf.walk_in(hospital, clinic, now=NOW, patient_id=patient.id)
    waiting = qf.walk_in(hospital, clinic, now=NOW, patient_id=create_patient(hospital).id)
    _serve(hospital, clinic, counter, ticket, NOW)
    _device, kiosk_token = create_kiosk(hospital, now=NOW)
    ticket_token, waiting_token = ticket.token, waiting.token
    db.session.commit()
    client.set_cookie("device_token", kiosk_token)
    assert 'data-form="survey-scan"' in client.get("/kiosk/survey").get_data(as_text=True)
    # Not served yet: no survey for that ticket.
    assert client.get(f"/kiosk/survey?ticket={waiting_token}").status_code == 404
    # The scanner types the ticket's whole link.
    form = client.get(f"/kiosk/survey?ticket=https://h.example/q/{ticket_token}")
    assert form.status_code == 200 and 'data-form="survey"' in form.get_data(as_text=True)
    done = client.post("/kiosk/survey", data={**ANSWERS, "ticket": ticket_token})
    assert done.status_code == 200 and "data-survey-thanks" in done.get_data(as_text=True)
    assert client.post("/kiosk/survey", data={**ANSWERS, "ticket": ticket_token}).status_code == 409
    db.session.expire_all()
    survey = db.session.scalars(sa.select(SatisfactionSurvey)).one()
    assert survey.answered_via is SurveyVia.KIOSK
    client.delete_cookie("device_token")
    assert client.get(f"/kiosk/survey?ticket={ticket_token}").status_code in (302, 401, 403)
