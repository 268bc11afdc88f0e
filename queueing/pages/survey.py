"""The satisfaction survey behind the link sent after a visit (the kiosk shows the same form)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l

from hospital.accounts.guards import token_access
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError
from queueing.models import SatisfactionSurvey, SurveyVia
from queueing.pages.common import bp
from queueing.services import surveys

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


def take_answers(survey: SatisfactionSurvey, *, via: SurveyVia) -> tuple[str, str | None, int]:
    """Record the posted answers: (state, error, status) for the page to show."""
    if survey.answered_at is not None:
        return "answered", None, 409
    try:
        surveys.answer(survey, surveys.parse_answers(request.form), via=via, now=utcnow())
    except DomainError as exc:
        db.session.rollback()
        if exc.code == ErrorCode.SURVEY_ANSWERED:
            return "answered", None, 409
        return "form", str(exc.message), exc.status
    return "thanks", None, 200


def render_survey(template: str, state: str, error: str | None, action: str, **extra: Any) -> str:
    return render_template(
        template,
        state=state,
        error=error,
        action=action,
        questions=QUESTIONS,
        choices=CHOICES,
        **extra,
    )


@bp.route("/survey/<token>", methods=["GET", "POST"])
@token_access("the survey link's token, sent to the patient after the visit")
def survey_page(token: str) -> Any:
    """The patient's short survey: three questions and a comment, answered once."""
    survey = surveys.survey_by_token(token)
    state, error, status = ("answered" if survey.answered_at else "form"), None, 200
    if request.method == "POST":
        state, error, status = take_answers(survey, via=SurveyVia.LINK)
    action = url_for("queueing_pages.survey_page", token=token)
    return render_survey("queueing/survey.html", state, error, action, hidden=None), status
