"""Page: wait for a clinician or a department over a range of dates (候补), not one session only."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hospital.accounts.guards import signed_in_account
from hospital.db import utcnow
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling.models import FeeClass, TimeBand
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import date_arg, int_arg
from scheduling.pages.page_context import local_today, page_context
from scheduling.services import overviews, waitlist

DEFAULT_DAYS = 7  # the range the form suggests: today and the six days after
BAND_VALUES = {b.value for b in TimeBand}
FEE_VALUES = {f.value for f in FeeClass}


@bp.route("/waitlist/join", methods=["GET", "POST"])
@sign_in_page_required
def join_waitlist_range() -> Page:
    """Choose whom, which dates, a time band and a fee class; join; see one's place in line."""
    account = signed_in_account()
    choice = overviews.waitlist_choice(
        int_arg("department_id") or 0, int_arg("clinician_id"), actor=account
    )
    today = local_today(account.hospital_id)
    first = date_arg("first_date", today)
    last = date_arg("last_date", today + timedelta(days=DEFAULT_DAYS - 1))
    band = request.values.get("band", TimeBand.ANY.value)
    fee = request.values.get("fee_class", "")
    error = None
    if request.method == "POST":
        whom = request.form.get("whom", "clinician" if choice.clinician else "department")
        with undo_on_error(let_refusals_through=True) as outcome:
            waitlist.join(
                actor=account,
                patient_id=int_arg("patient_id") or 0,
                clinician_id=choice.clinician.id
                if choice.clinician and whom == "clinician"
                else None,
                department_id=choice.department.id,
                first_date=first,
                last_date=last,
                band=TimeBand(band) if band in BAND_VALUES else TimeBand.ANY,
                fee_class=FeeClass(fee) if fee in FEE_VALUES else None,
                now=utcnow(),
            )
        if outcome.error is None:
            flash(
                _("You are on the waitlist. We will message you when a place comes free."),
                "success",
            )
            return redirect(url_for("scheduling_pages.my_waitlist"), 303)
        error = outcome.message
    page = render_template(
        "scheduling/waitlist_join.html",
        department=choice.department,
        clinician=choice.clinician,
        patients=choice.patients,
        first_date=first,
        last_date=last,
        band=band,
        fee=fee,
        today=today,
        error=error,
        **page_context(),
    )
    return (page, 409) if error else page
