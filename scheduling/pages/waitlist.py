"""Pages: join a sold-out session's waitlist (候补), see one's place in line, answer an offer."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from hospital.accounts.guards import signed_in_account
from hospital.db import utcnow
from hospital.web.fixable_errors import flash_fixable_errors
from hospital.web.navigation import sign_in_page_required
from scheduling.models import OfferState
from scheduling.pages.blueprint import Page, bp
from scheduling.pages.form_input import int_arg
from scheduling.pages.page_context import page_context
from scheduling.services import offers, waitlist


def _to_my_waitlist() -> str:
    return url_for("scheduling_pages.my_waitlist")


@bp.post("/book/sessions/<int:session_id>/waitlist")
@sign_in_page_required
@flash_fixable_errors(back=_to_my_waitlist)
def join_waitlist(session_id: int) -> Page:
    waitlist.join(
        actor=signed_in_account(),
        patient_id=int_arg("patient_id") or 0,
        session_id=session_id,
        now=utcnow(),
    )
    flash(_("You are on the waitlist. We will message you when a place comes free."), "success")
    return redirect(_to_my_waitlist(), 303)


@bp.get("/waitlist")
@sign_in_page_required
def my_waitlist() -> Page:
    now = utcnow()
    return render_template(
        "scheduling/my_waitlist.html",
        entries=waitlist.entries_for_account(actor=signed_in_account(), now=now),
        now=now,
        **page_context(),
    )


@bp.post("/waitlist/<int:entry_id>/leave")
@sign_in_page_required
@flash_fixable_errors(back=_to_my_waitlist)
def leave_waitlist(entry_id: int) -> Page:
    waitlist.leave(entry_id, actor=signed_in_account(), now=utcnow())
    flash(_("You have left the waitlist."), "success")
    return redirect(_to_my_waitlist(), 303)


@bp.get("/waitlist/offers/<int:offer_id>")
@sign_in_page_required
def offer(offer_id: int) -> Page:
    now = utcnow()
    found = offers.get_offer(offer_id, actor=signed_in_account(), now=now)
    details = offers.offer_details(found)
    return render_template(
        "scheduling/waitlist_offer.html",
        offer=found,
        details=details,
        open=found.state is OfferState.OFFERED and found.notify_at <= now < found.expires_at,
        now=now,
        **page_context(),
    )


@bp.post("/waitlist/offers/<int:offer_id>/accept")
@sign_in_page_required
@flash_fixable_errors(back=_to_my_waitlist)
def accept_offer(offer_id: int) -> Page:
    appointment = offers.accept(offer_id, actor=signed_in_account(), now=utcnow())
    if appointment.fee_fen > 0:
        # The hold's confirm page leads to payment; paying books it.
        return redirect(url_for("scheduling_pages.confirm", appointment_id=appointment.id), 303)
    flash(_("The place is yours: the appointment is booked."), "success")
    return redirect(url_for("scheduling_pages.my_appointments"), 303)


@bp.post("/waitlist/offers/<int:offer_id>/decline")
@sign_in_page_required
@flash_fixable_errors(back=_to_my_waitlist)
def decline_offer(offer_id: int) -> Page:
    offers.decline(offer_id, actor=signed_in_account(), now=utcnow())
    flash(_("You turned the place down; you stay on the waitlist."), "success")
    return redirect(_to_my_waitlist(), 303)
