"""Admins edit the schedule: weekly session templates and holidays or leave."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling import week_grid
from scheduling.models import ExceptionKind, SessionStatus
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import int_arg, parse_date, parse_int, parse_time, session_values
from scheduling.pages.page_context import (
    CHECK_THE_FIELDS,
    EXCEPTION_KINDS,
    local_today,
    page_context,
)
from scheduling.services import queries, templates, waitlist
from scheduling.services.rules import rules_for


def _week(hospital_id: int) -> date:
    """The Monday of the week asked for (?week=YYYY-MM-DD), else of this week."""
    asked = request.args.get("week", "")
    try:
        day = date.fromisoformat(asked) if len(asked) == 10 else local_today(hospital_id)
    except ValueError:
        day = local_today(hospital_id)
    return week_grid.week_start(day)


def _grid(account: Any, monday: date) -> list[week_grid.Row]:
    last = monday + timedelta(days=6)
    sessions = queries.sessions_between(account.hospital_id, monday, last)
    return week_grid.build(
        monday,
        queries.clinicians_of(account.hospital_id, active_only=True),
        sessions,
        queries.list_templates(actor=account),
        queries.exceptions_between(account.hospital_id, monday, last),
        cancelled={s.id for s in sessions if s.status is SessionStatus.CANCELLED},
        today=local_today(account.hospital_id),
    )


def _schedule_page(*, error: Any = None, errors: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    now = utcnow()
    monday = _week(account.hospital_id)
    prefill = {k: request.args.get(k, "") for k in ("clinician_id", "weekday", "local_date")}
    page = render_template(
        "scheduling/schedule_editor.html",
        monday=monday,
        week_days=[monday + timedelta(days=i) for i in range(7)],
        grid=_grid(account, monday),
        rooms={r.id: r for r in queries.consultation_rooms(account.hospital_id)},
        prefill=prefill,
        today=local_today(account.hospital_id),
        timedelta=timedelta,
        templates=queries.list_templates(actor=account),
        exceptions=queries.list_exceptions(actor=account, now=now),
        clinicians={c.id: c for c in queries.clinicians_of(account.hospital_id)},
        departments=queries.departments_by_id(account.hospital_id),
        exception_kinds=EXCEPTION_KINDS,
        rules=rules_for(account.hospital_id),
        demand=waitlist.demand_by_clinician(actor=account, now=now),
        values=request.form if request.method == "POST" else {},
        error=error,
        errors=errors or {},
        **page_context(),
    )
    return page, status


@bp.get("/admin/schedule")
@sign_in_page_required
@require_roles(Role.ADMIN)
def schedule_editor() -> Page:
    return _schedule_page()


@bp.post("/admin/schedule/templates")
@sign_in_page_required
@require_roles(Role.ADMIN)
def add_template() -> Page:
    account = signed_in_account()
    form = request.form
    errors: dict[str, str] = {}
    values = {
        **session_values(account, errors),
        "weekday": parse_int(form.get("weekday"), "weekday", errors, 0, 6),
        "booking_opens_days": parse_int(
            form.get("booking_opens_days"), "booking_opens_days", errors, 0, 90
        ),
        "release_time": parse_time(form.get("release_time"), "release_time", errors),
        "valid_from": parse_date(form.get("valid_from"), "valid_from", errors),
    }
    if errors:
        return _schedule_page(error=CHECK_THE_FIELDS, errors=errors, status=422)
    with undo_on_error() as outcome:
        templates.create_template(account.hospital_id, values, actor=account, now=utcnow())
    if outcome.error is not None:
        return _schedule_page(error=outcome.message, status=outcome.status)
    flash(_("The weekly session was added. Its slots appear when they are released."), "success")
    return redirect(url_for("scheduling_pages.schedule_editor"))


@bp.post("/admin/schedule/templates/<int:template_id>/active")
@sign_in_page_required
@require_roles(Role.ADMIN)
def toggle_template(template_id: int) -> Page:
    with undo_on_error() as outcome:
        templates.update_template(
            template_id,
            {"is_active": request.form.get("active") == "1"},
            actor=signed_in_account(),
            now=utcnow(),
        )
    if outcome.error is not None:
        return _schedule_page(error=outcome.message, status=outcome.status)
    flash(_("Saved."), "success")
    return redirect(url_for("scheduling_pages.schedule_editor"))


@bp.post("/admin/schedule/exceptions")
@sign_in_page_required
@require_roles(Role.ADMIN)
def add_exception() -> Page:
    account = signed_in_account()
    form = request.form
    errors: dict[str, str] = {}
    try:
        kind = ExceptionKind(form.get("kind", ""))
    except ValueError:
        errors["kind"] = _("Choose one of the options.")
        kind = ExceptionKind.HOLIDAY
    first = parse_date(form.get("first_date"), "first_date", errors)
    last = parse_date(form.get("last_date") or form.get("first_date"), "last_date", errors)
    reason = form.get("reason", "").strip()[:200]
    if not reason:
        errors["reason"] = _("Give a reason; patients whose appointments are cancelled see it.")
    if errors or first is None or last is None:
        return _schedule_page(error=CHECK_THE_FIELDS, errors=errors, status=422)
    with undo_on_error() as outcome:
        _exception, cancelled = templates.add_exception(
            account.hospital_id,
            actor=account,
            kind=kind,
            clinician_id=int_arg("clinician_id"),
            first_date=first,
            last_date=last,
            reason=reason,
            now=utcnow(),
        )
    if outcome.error is not None:
        return _schedule_page(error=outcome.message, status=outcome.status)
    flash(
        _("Saved. %(n)d appointments were cancelled and their patients told.", n=cancelled),
        "success",
    )
    return redirect(url_for("scheduling_pages.schedule_editor"))
