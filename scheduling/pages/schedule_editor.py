"""Admins edit the schedule: weekly session templates and holidays or leave."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling.models import ExceptionKind
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import int_arg, parse_date, parse_int, parse_time, session_values
from scheduling.pages.page_context import CHECK_THE_FIELDS, EXCEPTION_KINDS, page_context
from scheduling.services import queries, templates, waitlist
from scheduling.services.rules import rules_for


def _schedule_page(*, error: Any = None, errors: Any = None, status: int = 200) -> Page:
    account = signed_in_account()
    now = utcnow()
    page = render_template(
        "scheduling/schedule_editor.html",
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
