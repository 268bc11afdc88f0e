"""The satisfaction survey behind the link sent after a visit (the kiosk shows the same form)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from hospital.accounts.guards import token_access
from hospital.db import db, utcnow
from hospital.errors import DomainError
from queueing.models import SurveyVia
from queueing.pages.common import bp
from queueing.services import surveys


@bp.route("/survey/<token>", methods=["GET", "POST"])
@token_access("the survey link's token, sent to the patient after the visit")
def survey_page(token: str) -> Any:
    """The patient's short survey: three questions and a comment, answered once."""
    survey = surveys.survey_by_token(token)
    state, error, status = ("answered" if survey.answered_at else "form"), None, 200
    if request.method == "POST":
        try:
            recorded = surveys.answer_from_form(
                survey, request.form, via=SurveyVia.LINK, now=utcnow()
            )
        except DomainError as exc:
            db.session.rollback()
            state, error, status = "form", str(exc.message), exc.status
        else:
            state, status = ("thanks", 200) if recorded else ("answered", 409)
    page = render_template(
        "queueing/survey.html",
        state=state,
        error=error,
        action=url_for("queueing_pages.survey_page", token=token),
        questions=surveys.QUESTIONS,
        choices=surveys.CHOICES,
        hidden=None,
    )
    return page, status
