"""The family's codes on one phone (家人就诊码), and the printable patient card."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import signed_in_account
from hospital.cards import service
from hospital.db import utcnow
from hospital.organisation.lookup import current_hospital
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.identity import mask_name
from hospital.pdf import render_pdf
from hospital.qr import qr_svg
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile

bp = Blueprint("cards_pages", __name__, template_folder="templates")

add_home_tile(
    Tile(
        "cards_pages.family_codes",
        _l("Family patient codes"),
        _l("Show a parent's code on your phone, or print a patient card for them"),
        order=65,
    )
)


@bp.get("/family/codes")
@sign_in_page_required
def family_codes() -> str:
    account = signed_in_account()
    people = service.people(account)
    raw = request.args.get("patient", "")
    chosen = next((p for p in people if str(p.id) == raw), people[0] if people else None)
    card = service.active_card(chosen.id) if chosen else None
    return render_template(
        "cards/family_codes.html",
        people=people,
        chosen=chosen,
        card=card,
        spaced=service.spaced(card.code) if card else "",
        qr=Markup(qr_svg(card.code, box_size=6)) if card else "",
        mask_name=mask_name,
    )


@bp.post("/family/codes/<int:patient_id>/issue")
@sign_in_page_required
def issue(patient_id: int) -> WerkzeugResponse:
    service.issue(signed_in_account(), patient_id, now=utcnow())
    flash(_("A new code is ready. Any card printed before no longer works."))
    return redirect(url_for("cards_pages.family_codes", patient=patient_id))


@bp.post("/family/codes/<int:patient_id>/revoke")
@sign_in_page_required
def revoke(patient_id: int) -> WerkzeugResponse:
    if service.revoke(signed_in_account(), patient_id, now=utcnow()):
        flash(_("The code is revoked: its card no longer works."))
    return redirect(url_for("cards_pages.family_codes", patient=patient_id))


@bp.get("/family/codes/<int:patient_id>/card.pdf")
@sign_in_page_required
def card_pdf(patient_id: int) -> Response:
    account = signed_in_account()
    patient = require_patient_access(account, patient_id, Permission.BOOK, action="card.print")
    card = service.active_card(patient.id) or service.issue(account, patient.id, now=utcnow())
    hospital = current_hospital()
    html = render_template(
        "cards/card_pdf.html",
        masked_name=mask_name(patient.name),
        code=service.spaced(card.code),
        qr=Markup(qr_svg(card.code, box_size=4)),
        hospital=hospital,
    )
    return Response(
        render_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": "inline; filename=patient-card.pdf"},
    )
