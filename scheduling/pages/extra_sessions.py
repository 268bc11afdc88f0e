"""Admins add ad-hoc extra sessions, outside the weekly templates."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import parse_date, session_values
from scheduling.pages.page_context import CHECK_THE_FIELDS, local_today, page_context
from scheduling.services import queries, templates


def _extra_sessions_page(*, error: Any = None, errors: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    page = render_template(
        "scheduling/extra_sessions.html",
        clinicians={c.id: c for c in queries.clinicians_of(account.hospital_id, active_only=True)},
        departments=queries.departments_by_id(account.hospital_id),
        rooms=queries.consultation_rooms(account.hospital_id),
        sessions=queries.upcoming_extra_sessions(
            account.hospital_id, from_date=local_today(account.hospital_id)
        ),
        values=request.form if request.method == "POST" else {},
        error=error,
        errors=errors or {},
        **page_context(),
    )
    return page, status


@bp.get("/admin/schedule/extra-sessions")
@sign_in_page_required
@require_roles(Role.ADMIN)
def extra_sessions() -> Page:
    return _extra_sessions_page()


@bp.post("/admin/schedule/extra-sessions")
@sign_in_page_required
@require_roles(Role.ADMIN)
def add_extra_session() -> Page:
    account = signed_in_account()
    errors: dict[str, str] = {}
    values = session_values(account, errors)
    # The form names the room: an extra session is often in another room than the usual one.
    room = request.form.get("service_point_id", "")
    rooms = {p.id for p in queries.consultation_rooms(account.hospital_id)}
    if not room:
        errors["service_point_id"] = _("Choose the room for the session.")
    elif not (room.isdigit() and len(room) < 10 and int(room) in rooms):
        errors["service_point_id"] = _("Choose one of the rooms.")
    else:
        values["service_point_id"] = int(room)
    local_date = parse_date(request.form.get("local_date"), "local_date", errors)
    # The service refuses a past date too; here it becomes a message beside the field.
    if local_date is not None and local_date < local_today(account.hospital_id):
        errors["local_date"] = _("Choose today or a later day.")
    if errors or local_date is None:
        return _extra_sessions_page(error=CHECK_THE_FIELDS, errors=errors, status=422)
    with undo_on_error() as outcome:
        session = templates.add_extra_session(
            account.hospital_id, values, actor=account, local_date=local_date, now=utcnow()
        )
    if outcome.error is not None:
        return _extra_sessions_page(error=outcome.message, status=outcome.status)
    flash(
        _(
            "The extra session on %(date)s was added with its slots.",
            date=session.local_date.isoformat(),
        ),
        "success",
    )
    return redirect(url_for("scheduling_pages.extra_sessions"))
