"""Turn triage answers and routes into what pages and the API show (needs a request for URLs)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from werkzeug.routing import BuildError

from hospital.guide.services.lexicon import Answer
from hospital.guide.services.maps import RouteAnswer
from hospital.guide.triage import EMERGENCY, Suggestion

EMERGENCY_ZH = "可能是急症：请立即拨打120，或马上去急诊科，不要等待挂号。"
EMERGENCY_EN = (
    "This may be an emergency: call 120 now, or go to the emergency department straight away. "
    "Do not wait to book."
)


def _url(answer: Answer, s: Suggestion) -> str | None:
    try:
        if s.target.kind == "service" and s.target.endpoint:
            return url_for(s.target.endpoint)
        department = answer.departments.get(s.target.code)
        if department is not None and s.target.code != EMERGENCY:
            return url_for("scheduling_pages.department_days", department_id=department.id)
    except BuildError:  # a page of a package this installation does not run
        return None
    return None


def answer_view(answer: Answer) -> dict[str, Any]:
    """The answer as TriageOut describes it."""
    suggestions = []
    for s in answer.suggestions:
        department = answer.departments.get(s.target.code)
        suggestions.append(
            {
                "code": s.target.code,
                "kind": s.target.kind,
                "name_zh": department.name_zh if department else s.target.name_zh,
                "name_en": department.name_en if department else s.target.name_en,
                "clinician_zh": s.target.clinician_zh,
                "clinician_en": s.target.clinician_en,
                "reason_zh": s.reason_zh(),
                "reason_en": s.reason_en(),
                "score": s.score,
                "url": _url(answer, s),
                "service_point": answer.places.get(s.target.code),
            }
        )
    return {
        "q": answer.text,
        "emergency": answer.emergency,
        "emergency_message_zh": EMERGENCY_ZH if answer.emergency else None,
        "emergency_message_en": EMERGENCY_EN if answer.emergency else None,
        "red_flags": [e.label_en for e in answer.result.red_flags],
        "child": answer.result.child,
        "pregnancy": answer.result.pregnancy,
        "suggestions": suggestions,
    }


def route_view(found: RouteAnswer, lang: str) -> dict[str, Any]:
    """The route as RouteOut describes it."""
    return {
        "nodes": [n.code for n in found.route.nodes],
        "length_m": found.route.length_m,
        "step_free": found.route.step_free,
        "steps": [
            {"kind": s.kind, "zh": s.zh, "en": s.en, "floor": s.floor, "nodes": list(s.nodes)}
            for s in found.steps
        ],
        "floors": [{"floor": key, "svg": str(svg)} for key, svg in found.svgs(lang)],
    }
