"""Desk staff see the patients whose online booking is suspended after no-shows, and lift it."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import int_arg
from scheduling.pages.page_context import page_context
from scheduling.services import attendance, queries


def _suspensions_page(*, error: Any = None, status: int = 200) -> Page:
    page = render_template(
        "scheduling/suspensions.html",
        suspensions=attendance.active_suspensions(actor=signed_in_account(), now=utcnow()),
        error=error,
        error_patient_id=int_arg("patient_id") if error else None,
        **page_context(),
    )
    return page, status


@bp.get("/staff/suspensions")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.ADMIN)
def suspensions() -> Page:
    return _suspensions_page()


@bp.post("/staff/suspensions/lift")
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.ADMIN)
def lift_suspension() -> Page:
    patient_id = int_arg("patient_id")
    with undo_on_error() as outcome:
        if patient_id is None:
            raise InvalidInput(_l("Choose a patient."), code=ErrorCode.PATIENT_REQUIRED)
        attendance.lift_suspension(
            patient_id,
            actor=signed_in_account(),
            reason=request.form.get("reason", "").strip()[:200],
            now=utcnow(),
        )
    if outcome.error is not None or patient_id is None:
        return _suspensions_page(error=outcome.message, status=outcome.status)
    patient = queries.patient_by_id(patient_id)
    flash(
        _("%(name)s may book online again.", name=patient.name if patient else ""),
        "success",
    )
    return redirect(url_for("scheduling_pages.suspensions"))
