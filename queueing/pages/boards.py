"""Printed and shown screens: a service point's check-in poster, the fairness report, the board."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.guards import public, require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import Department, ServicePoint
from hospital.web.id_fields import is_id
from hospital.web.navigation import sign_in_page_required
from hospital.zones import zone_for
from queueing.pages.common import PASSING_REASONS, POSTER_ROLES, PRIORITIES, bp, service_today
from queueing.services import arrivals, fairness_report, queues


@bp.route("/queueing/points/<int:service_point_id>/poster")
@sign_in_page_required
@require_roles(*POSTER_ROLES)
def poster_page(service_point_id: int) -> str:
    """The printable check-in poster of a service point: a large QR the phones scan on arrival."""
    from hospital.qr import qr_svg

    actor = signed_in_account()
    point = queues.active_service_point(actor.hospital_id, service_point_id)
    code = arrivals.poster_code_of(point)
    return render_template(
        "queueing/poster.html",
        point=point,
        code=code,
        qr=Markup(qr_svg(arrivals.poster_link(code), box_size=12)),
    )


@bp.route("/queueing/fairness")
@sign_in_page_required
@require_roles(Role.ADMIN, Role.NURSE)
def fairness_page() -> str:
    """The daily fairness report: longest waits per class against the bound, passing calls."""
    raw = request.args.get("day", "")
    try:
        day = date.fromisoformat(raw) if raw else service_today()
    except ValueError:
        raise InvalidInput(
            _l("Give the day as YYYY-MM-DD."), code=ErrorCode.BAD_STATISTICS_RANGE
        ) from None
    report = fairness_report.daily_report(actor=signed_in_account(), day=day)
    return render_template(
        "queueing/fairness.html",
        day=day,
        report=report,
        priorities={k: str(v) for k, v in PRIORITIES.items()},
        reasons={k: str(v) for k, v in PASSING_REASONS.items()},
    )


@bp.route("/queueing/board")
@public("display board: masked names and ticket numbers only")
def board_page() -> str:
    """The display board (landscape, full screen) of a department or of listed service points."""
    points = request.args.get("points", "")
    department = request.args.get("department", "")
    parts = points.split(",") if points else []
    if department.isdigit() and not points:
        scope = f"department={int(department)}"
    elif parts and len(parts) <= 20 and all(p.isdigit() for p in parts):
        scope = "points=" + ",".join(parts)
    else:
        raise InvalidInput(
            _l("Give the board a department (?department=2) or service points (?points=1,2,3)."),
            code=ErrorCode.BOARD_SCOPE_REQUIRED,
        )
    if not parts and is_id(int(department)):
        # A department's board shows the posters of its own service points.
        parts = [
            str(point_id)
            for point_id in db.session.scalars(
                sa.select(ServicePoint.id)
                .where(
                    ServicePoint.department_id == int(department), ServicePoint.is_active.is_(True)
                )
                .order_by(ServicePoint.code)
                .limit(4)
            )
        ]
    hospital = current_hospital()
    now = utcnow()
    return render_template(
        "queueing/board.html",
        scope=scope,
        posters=_board_posters(parts),
        place=_board_place(department, parts),
        zone=hospital.timezone,
        clock=now.astimezone(zone_for(hospital)),
        sound=request.args.get("sound") == "1",
    )


def _board_place(department: str, point_ids: list[str]) -> tuple[str, str]:
    """What the board is for, in Chinese and English: its department, else its service points."""
    hospital = current_hospital()
    found: Department | None = None
    if department.isdigit() and is_id(int(department)):
        found = db.session.get(Department, int(department))
    points = [
        p
        for p in (db.session.get(ServicePoint, int(t)) for t in point_ids[:20] if is_id(int(t)))
        if p is not None and p.hospital_id == hospital.id
    ]
    departments = {p.department_id for p in points}
    if found is None and len(departments) == 1 and points[0].department_id is not None:
        found = db.session.get(Department, points[0].department_id)
    if found is not None and found.hospital_id == hospital.id:
        return found.name_zh, found.name_en
    return " · ".join(p.name_zh for p in points[:3]), " · ".join(p.name_en for p in points[:3])


def _board_posters(point_ids: list[str]) -> list[tuple[ServicePoint, Markup]]:
    """The check-in poster QR of (up to four of) the service points the board shows."""
    from hospital.qr import qr_svg

    hospital = current_hospital()
    posters = []
    for text in point_ids[:4]:
        point = db.session.get(ServicePoint, int(text)) if is_id(int(text)) else None
        if point is not None and point.hospital_id == hospital.id and point.is_active:
            code = arrivals.poster_code_of(point)
            posters.append((point, Markup(qr_svg(arrivals.poster_link(code), box_size=4))))
    return posters
