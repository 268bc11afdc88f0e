"""The satisfaction loop: one short survey per patient and day after a consultation, by a token
link in one message (to the patient, or to the family account that booked) or at the kiosk."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from hospital import events
from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify, withdraw_unsent
from hospital.organisation.models import ServicePoint, ServicePointKind
from hospital.patients.models import FamilyLink, Patient, Relationship
from queueing.models import SatisfactionSurvey, ServiceQueue, Ticket
from queueing.models import SurveyVia as SurveyVia  # re-exported: callers pass it to answer()

MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    "queue.survey": MessageTemplate(
        subject=_l("How was your visit?"),
        body=_l(
            "Thank you for visiting {place}. Three short questions about your visit today "
            "(one minute): {link}"
        ),
    ),
}

# The three questions and the five answers, worded for elders (the link page and the kiosk).
QUESTIONS = (
    ("wait_score", _l("Was your wait acceptable?")),
    ("staff_score", _l("Did the staff treat you kindly and explain clearly?")),
    ("overall_score", _l("How was your visit overall?")),
)
CHOICES = (
    (1, "😞", _l("Very poor")),
    (2, "🙁", _l("Poor")),
    (3, "😐", _l("All right")),
    (4, "🙂", _l("Good")),
    (5, "😄", _l("Very good")),
)
COMMENT_LENGTH = 500


@dataclass(frozen=True)
class Answers:
    wait_score: int
    staff_score: int
    overall_score: int
    comment: str = ""


def survey_link(survey: SatisfactionSurvey) -> str:
    base = current_app.config.get("PUBLIC_URL", "") if has_app_context() else ""
    return f"{base.rstrip('/')}/survey/{survey.token}"


def _upsert_insert() -> Any:
    """The dialect's INSERT with ON CONFLICT (both PostgreSQL and SQLite have it)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def offer_after_consultation(
    ticket: Ticket, queue: ServiceQueue, point: ServicePoint, *, now: datetime
) -> SatisfactionSurvey | None:
    """After a consultation ends, offer the survey once per patient and day, with one message."""
    if ticket.patient_id is None or point.kind is not ServicePointKind.CONSULTATION_ROOM:
        return None
    survey_id = db.session.execute(
        _upsert_insert()(SatisfactionSurvey)
        .values(
            hospital_id=ticket.hospital_id,
            patient_id=ticket.patient_id,
            service_date=queue.service_day,
            ticket_id=ticket.id,
            department_id=point.department_id,
            token=secrets.token_urlsafe(24),
            offered_at=now,
            comment="",
        )
        .on_conflict_do_nothing(index_elements=["hospital_id", "patient_id", "service_date"])
        .returning(SatisfactionSurvey.id)
    ).scalar()
    if survey_id is None:  # offered already today (a second consultation, or a retry)
        return None
    survey = db.session.get_one(SatisfactionSurvey, survey_id)
    _send_one_message(survey, ticket, point, now=now)
    return survey


def _recipient(ticket: Ticket, patient: Patient) -> tuple[str | None, str | None, str]:
    """(phone, e-mail, language): the account that booked, else the patient's own."""
    account: Account | None = None
    if ticket.appointment_id is not None:
        from scheduling.services.queries import appointment_of_hospital

        appointment = appointment_of_hospital(ticket.hospital_id, ticket.appointment_id)
        if appointment is not None:
            account = db.session.get(Account, appointment.account_id)
    if account is None:
        account = db.session.scalar(
            sa.select(Account)
            .join(FamilyLink, FamilyLink.account_id == Account.id)
            .where(
                FamilyLink.patient_id == patient.id,
                FamilyLink.relationship == Relationship.SELF,
            )
        )
    if account is not None and account.is_active and (account.phone or account.email):
        return account.phone, None if account.phone else account.email, account.language.value
    language = account.language.value if account is not None else _default_language()
    return patient.phone, None, language


def _default_language() -> str:
    return str(current_app.config.get("DEFAULT_LANGUAGE", "zh")) if has_app_context() else "zh"


def _send_one_message(
    survey: SatisfactionSurvey, ticket: Ticket, point: ServicePoint, *, now: datetime
) -> None:
    patient = db.session.get(Patient, survey.patient_id)
    if patient is None:
        return
    phone, email, language = _recipient(ticket, patient)
    if not phone and not email:
        return
    # Sent a while after the visit (the patient has left the room), by the outbox job when due.
    delay = timedelta(minutes=survey_delay_minutes())
    for message in notify(
        hospital_id=survey.hospital_id,
        template="queue.survey",
        context={"place": f"{point.name_zh} {point.name_en}", "link": survey_link(survey)},
        language=language,
        phone=phone,
        email=email,
        patient_id=patient.id,
        dedupe_key=f"survey:{survey.id}",
        now=now,
    ):
        message.next_attempt_at = now + delay


def survey_delay_minutes() -> int:
    """QUEUE_SURVEY_DELAY_MINUTES: how long after the consultation the message goes out."""
    if not has_app_context():
        return 30
    return max(int(current_app.config.get("QUEUE_SURVEY_DELAY_MINUTES", 30)), 0)


def survey_by_token(token: Any) -> SatisfactionSurvey:
    survey = (
        db.session.scalar(sa.select(SatisfactionSurvey).where(SatisfactionSurvey.token == token))
        if isinstance(token, str) and 16 <= len(token) <= 43
        else None
    )
    if survey is None:
        raise NotFound(
            _l("This survey link is not valid. Use the link from your message."),
            code=ErrorCode.SURVEY_NOT_FOUND,
        )
    return survey


def survey_for_ticket(ticket_token: Any) -> SatisfactionSurvey:
    """The kiosk: the survey of the patient and day of a scanned ticket."""
    ticket = (
        db.session.scalar(sa.select(Ticket).where(Ticket.token == ticket_token))
        if isinstance(ticket_token, str) and 16 <= len(ticket_token) <= 43
        else None
    )
    survey = (
        db.session.scalar(
            sa.select(SatisfactionSurvey)
            .join(ServiceQueue, ServiceQueue.id == ticket.queue_id)
            .where(
                SatisfactionSurvey.hospital_id == ticket.hospital_id,
                SatisfactionSurvey.patient_id == ticket.patient_id,
                SatisfactionSurvey.service_date == ServiceQueue.service_day,
            )
        )
        if ticket is not None and ticket.patient_id is not None
        else None
    )
    if survey is None:
        raise NotFound(
            _l("There is no survey for this ticket yet. It opens when your consultation ends."),
            code=ErrorCode.SURVEY_NOT_FOUND,
        )
    return survey


def parse_answers(form: Any) -> Answers:
    """Three answers from 1 to 5 and an optional comment; a clear 4xx for anything else."""
    scores: dict[str, int] = {}
    for name, _question in QUESTIONS:
        raw = form.get(name)
        value = int(raw) if isinstance(raw, str) and raw.isdigit() else None
        if value is None or not 1 <= value <= 5:
            raise InvalidInput(
                _l("Please answer all three questions (pick one face for each)."),
                code=ErrorCode.SURVEY_INVALID,
            )
        scores[name] = value
    comment = form.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > COMMENT_LENGTH:
        raise InvalidInput(
            _l("Keep the comment under 500 characters."), code=ErrorCode.SURVEY_INVALID
        )
    return Answers(**scores, comment=comment.strip())


def answer(
    survey: SatisfactionSurvey, answers: Answers, *, via: SurveyVia, now: datetime
) -> SatisfactionSurvey:
    """Record the answers once: a second answer for the same visit is refused."""
    done = db.session.execute(  # type: ignore[attr-defined]  # a CursorResult
        sa.update(SatisfactionSurvey)
        .where(SatisfactionSurvey.id == survey.id, SatisfactionSurvey.answered_at.is_(None))
        .values(
            answered_at=now,
            answered_via=via,
            wait_score=answers.wait_score,
            staff_score=answers.staff_score,
            overall_score=answers.overall_score,
            comment=answers.comment,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(survey)
    if not done:
        raise Conflict(
            _l("This survey has been answered already. Thank you!"),
            code=ErrorCode.SURVEY_ANSWERED,
        )
    # Answered (at the kiosk) before its link was due: the link would only ask again.
    withdraw_unsent(f"survey:{survey.id}", now=now)
    events.survey_answered.send(
        "queueing",
        survey_id=survey.id,
        hospital_id=survey.hospital_id,
        department_id=survey.department_id,
        service_date=survey.service_date,
        wait_score=answers.wait_score,
        staff_score=answers.staff_score,
        overall_score=answers.overall_score,
        comment=answers.comment,
        via=via.value,
        now=now,
    )
    return survey


def answer_from_form(
    survey: SatisfactionSurvey, form: Any, *, via: SurveyVia, now: datetime
) -> bool:
    """Answer from a posted form: True when recorded, False when it was answered before.

    Invalid answers raise InvalidInput (nothing is written)."""
    if survey.answered_at is not None:
        return False
    try:
        answer(survey, parse_answers(form), via=via, now=now)
    except Conflict:
        return False
    return True
