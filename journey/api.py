"""REST endpoints of the visit (/api/v1/journey): the patient's visits and one visit's next step."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from hospital.accounts.guards import require_signed_in, signed_in_account
from hospital.db import utcnow
from journey import services
from journey.presenting import visit_dict
from journey.schemas import VisitOut, VisitSummaryOut

blp = Blueprint(
    "journey_api",
    __name__,
    description="The visit as one flow: its code (就诊码), timeline and the one next step.",
)


@blp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/visits", methods=["GET"])
@require_signed_in
@blp.response(200, VisitSummaryOut(many=True))
def my_visits() -> list[dict[str, Any]]:
    """Today's and coming visits of the patients this account acts for, today's first."""
    return [
        {
            "code": s.visit.code,
            "service_date": s.visit.service_date,
            "masked_name": s.masked_name,
            "is_today": s.is_today,
        }
        for s in services.visits_for_account(actor=signed_in_account(), now=utcnow())
    ]


@blp.route("/visits/<code>", methods=["GET"])
@require_signed_in
@blp.response(200, VisitOut)
@blp.alt_response(404, description="No such visit, or not one this account may see.")
def get_visit(code: str) -> dict[str, Any]:
    """One visit: the next step (where to go, how long), the timeline and its tickets."""
    now = utcnow()
    view = services.visit_for_viewer(code, actor=signed_in_account(), now=now)
    return visit_dict(view, now=now)
