"""The satisfaction survey by its link's token: answer it once (the page and the kiosk post the
same answers as a form)."""

from __future__ import annotations

from typing import Any

from hospital.accounts.guards import token_access
from hospital.db import utcnow
from queueing.rest.common import blp
from queueing.schemas import SurveyAnswerArgs, SurveyAnswerOut
from queueing.services import surveys


@blp.route("/surveys/<token>/answer", methods=["POST"])
@token_access("the survey link's token, sent to the patient after the visit")
@blp.arguments(SurveyAnswerArgs)
@blp.response(201, SurveyAnswerOut)
@blp.alt_response(404, description="No survey has this token (code `survey_not_found`).")
@blp.alt_response(409, description="The survey has been answered already (code `survey_answered`).")
def answer_survey(args: dict[str, Any], token: str) -> dict[str, Any]:
    """Answer the survey sent after the visit: three scores from 1 to 5 and an optional comment.

    Answered once: a second answer, even at the same moment, is refused with 409 and changes
    nothing."""
    survey = surveys.survey_by_token(token)
    answers = surveys.Answers(
        wait_score=args["wait_score"],
        staff_score=args["staff_score"],
        overall_score=args["overall_score"],
        comment=args["comment"].strip(),
    )
    survey = surveys.answer(survey, answers, via=surveys.SurveyVia.LINK, now=utcnow())
    return {
        "answered_at": survey.answered_at,
        "answered_via": survey.answered_via.value if survey.answered_via else "",
        "wait_score": survey.wait_score,
        "staff_score": survey.staff_score,
        "overall_score": survey.overall_score,
    }
