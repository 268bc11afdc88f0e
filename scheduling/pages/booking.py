"""Patients book a time: find a department, pick a day and a session, hold a slot."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from hospital.accounts.guards import signed_in_account
from hospital.db import utcnow
from hospital.guide.presenting import answer_view
from hospital.guide.services import lexicon
from hospital.organisation.schemas import TITLE_LABELS
from hospital.web.fixable_errors import undo_on_error
from hospital.web.navigation import sign_in_page_required
from scheduling.finding import LETTERS, index_letter, letters_present
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import int_arg
from scheduling.pages.page_context import SEARCH_DAYS, local_today, page_context
from scheduling.services import booking, overviews, queries


@bp.get("/book")
@sign_in_page_required
def book() -> Page:
    account = signed_in_account()
    search = request.args.get("q", "")[:50]
    # The same box understands plain words (智能导诊): symptoms, services, red flags first.
    triage = answer_view(lexicon.answer(account.hospital_id, search)) if search.strip() else None
    # The A-Z index: a letter shows the departments whose Chinese name starts with that pinyin.
    every = queries.departments_matching(account.hospital_id, "")
    letter_of = {d.id: index_letter(d.name_zh, d.pinyin_initials) for d in every}
    letter = request.args.get("letter", "")[:1].upper()
    letter = letter if letter in letter_of.values() else ""
    departments = queries.departments_matching(account.hospital_id, search)
    if letter:
        departments = [d for d in departments if letter_of[d.id] == letter]
    return render_template(
        "scheduling/departments.html",
        departments=departments,
        query=search,
        triage=triage,
        letters=letters_present(list(letter_of.values())),
        all_letters=(*LETTERS, "#"),
        letter=letter,
        letter_of=letter_of,
        **page_context(),
    )


@bp.get("/book/departments/<int:department_id>")
@sign_in_page_required
def department_days(department_id: int) -> Page:
    account = signed_in_account()
    today = local_today(account.hospital_id)
    found = overviews.department_days(
        account.hospital_id,
        department_id,
        first_date=today,
        last_date=today + timedelta(days=SEARCH_DAYS - 1),
        now=utcnow(),
    )
    # The date strip: one day at a time (the asked one, else the first with places).
    days = [day for day, _sessions in found.days]
    asked = request.args.get("day", "")
    chosen = next((d for d in days if d.isoformat() == asked), None) or next(
        (day for day, sessions in found.days if any(s.bookable for s in sessions)),
        days[0] if days else None,
    )
    return render_template(
        "scheduling/department_days.html",
        department=found.department,
        by_day=found.days,
        chosen=chosen,
        clinicians=found.clinicians,
        title_labels=TITLE_LABELS,
        **page_context(),
    )


def _session_page(session_id: int, *, error: Any = None, status: int = 200) -> Page:
    now = utcnow()
    found = overviews.session_to_book(session_id, actor=signed_in_account(), now=now)
    page = render_template(
        "scheduling/session_slots.html",
        session=found.session,
        clinician=found.clinician,
        department=found.department,
        slots=found.slots,
        patients=found.patients,
        # Released and every time taken: the patient may join the waitlist instead.
        sold_out=now >= found.session.release_at
        and not any(s.bookable and s.remaining for s in found.slots),
        error=error,
        now=now,
        **page_context(),
    )
    return page, status


@bp.get("/book/sessions/<int:session_id>")
@sign_in_page_required
def session_slots(session_id: int) -> Page:
    return _session_page(session_id)


@bp.post("/book/sessions/<int:session_id>/hold")
@sign_in_page_required
def hold(session_id: int) -> Page:
    account = signed_in_account()
    slot_id, patient_id = int_arg("slot_id"), int_arg("patient_id")
    if slot_id is None or patient_id is None:
        return _session_page(
            session_id, error=_("Choose a time and who the appointment is for."), status=422
        )
    with undo_on_error() as outcome:
        appointment = booking.hold(
            actor=account, patient_id=patient_id, slot_id=slot_id, now=utcnow()
        )
    if outcome.error is not None:
        return _session_page(session_id, error=outcome.message, status=outcome.status)
    return redirect(url_for("scheduling_pages.confirm", appointment_id=appointment.id))
