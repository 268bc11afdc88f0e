"""The medical-insurance pages: show a code for yourself or a family member, activate it, and
share your personal account with the family (家庭共济)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.billing.services import family_pool, insured
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, InvalidInput
from hospital.patients.identity import mask_name
from hospital.patients.models import FamilyLink, Relationship
from hospital.qr import qr_svg
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile

bp = Blueprint(
    "insurance_pages", __name__, template_folder="templates", url_prefix="/billing/insurance"
)

add_home_tile(
    Tile(
        "insurance_pages.insurance",
        _l("Medical insurance code"),
        _l("Show your or a parent's insurance code, and share your account with family"),
        order=66,
    )
)

_YUAN = re.compile(r"^\d{1,7}(\.\d{1,2})?$")


def _fen(raw: str) -> int:
    text = (raw or "").strip()
    if not _YUAN.match(text):
        raise InvalidInput(
            _l("Enter an amount in yuan, such as 50 or 12.50."), code=ErrorCode.BAD_AMOUNT
        )
    whole, _dot, cents = text.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def _back(patient_id: int | None = None) -> WerkzeugResponse:
    return redirect(url_for("insurance_pages.insurance", patient=patient_id))


@bp.get("/")
@sign_in_page_required
def insurance() -> str:
    account = signed_in_account()
    now = utcnow()
    people = family_pool.payable_people(actor=account)
    raw = request.args.get("patient", "")
    chosen = next((p for p in people if str(p.id) == raw), people[0] if people else None)
    links = {
        link.patient_id: link
        for link in db.session.scalars(
            sa.select(FamilyLink).where(FamilyLink.account_id == account.id)
        ).all()
    }
    voucher = insured.active_voucher(chosen.id) if chosen else None
    shown = (
        insured.show_code(actor=account, patient_id=chosen.id, now=now)
        if chosen is not None and voucher is not None
        else None
    )
    own = next(
        (p for p in people if links.get(p.id) and links[p.id].relationship is Relationship.SELF),
        None,
    )
    return render_template(
        "billing/insurance.html",
        people=people,
        chosen=chosen,
        is_self=chosen is not None and own is not None and chosen.id == own.id,
        voucher=voucher,
        shown=shown,
        spaced=_spaced(shown.code) if shown else "",
        qr=Markup(qr_svg(shown.code, box_size=6)) if shown else "",
        balance=insured.balance_of(chosen.id) if chosen else None,
        own=own,
        own_active=own is not None and insured.active_voucher(own.id) is not None,
        given=family_pool.grants_given(actor=account, now=now),
        usable=family_pool.grants_for_patient(actor=account, patient_id=chosen.id, now=now)
        if chosen
        else [],
        mask_name=mask_name,
    )


def _spaced(code: str) -> str:
    return "-".join([code[:2], *(code[i : i + 4] for i in range(2, len(code), 4))])


def _attempt(action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(str(exc.message), "error")
    else:
        flash(_("Done."), "success")


@bp.post("/<int:patient_id>/consent-code")
@sign_in_page_required
def consent_code(patient_id: int) -> WerkzeugResponse:
    account = signed_in_account()
    _attempt(lambda: insured.send_consent_code(actor=account, patient_id=patient_id, now=utcnow()))
    return _back(patient_id)


@bp.post("/<int:patient_id>/activate")
@sign_in_page_required
def activate(patient_id: int) -> WerkzeugResponse:
    account = signed_in_account()
    code = request.form.get("consent_code") or None
    _attempt(
        lambda: insured.activate(
            actor=account, patient_id=patient_id, consent_code=code, now=utcnow()
        )
    )
    return _back(patient_id)


@bp.post("/<int:patient_id>/deactivate")
@sign_in_page_required
def deactivate(patient_id: int) -> WerkzeugResponse:
    account = signed_in_account()
    _attempt(lambda: insured.deactivate(actor=account, patient_id=patient_id, now=utcnow()))
    return _back(patient_id)


@bp.post("/family-pool")
@sign_in_page_required
def grant() -> WerkzeugResponse:
    account = signed_in_account()
    raw_id = request.form.get("beneficiary", "")
    beneficiary = int(raw_id) if raw_id.isdigit() and len(raw_id) < 10 else 0

    def give() -> None:
        family_pool.grant(
            actor=account,
            beneficiary_patient_id=beneficiary,
            per_payment_limit_fen=_fen(request.form.get("per_payment", "")),
            monthly_limit_fen=_fen(request.form.get("monthly", "")),
            now=utcnow(),
        )

    _attempt(give)
    return _back(beneficiary or None)


@bp.post("/family-pool/<int:grant_id>/revoke")
@sign_in_page_required
def revoke(grant_id: int) -> WerkzeugResponse:
    account = signed_in_account()
    _attempt(lambda: family_pool.revoke(actor=account, grant_id=grant_id, now=utcnow()))
    return _back()


@bp.route("/desk", methods=["GET", "POST"])
@sign_in_page_required
@require_roles(Role.REGISTRAR, Role.ADMIN)
def desk() -> str | tuple[str, int]:
    """Registration desk: activate the code of a person who showed their identity document."""
    from hospital.patients.services.records import look_up_at_desk

    actor = signed_in_account()
    activated = None
    error = None
    if request.method == "POST":
        patient = look_up_at_desk(staff=actor, text=request.form.get("patient_number", ""))
        if patient is None:
            error = _("No patient has this record or identity number. Check it.")
        else:
            insured.activate(actor=actor, patient_id=patient.id, consent_code=None, now=utcnow())
            activated = mask_name(patient.name)
    page = render_template("billing/insurance_desk.html", activated=activated, error=error)
    return (page, 404) if error else page
