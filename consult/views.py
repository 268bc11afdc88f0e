"""Consultation pages: ask, pay and follow the thread (patients); the inbox and reply (clinicians)."""

from __future__ import annotations

import re
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from consult.red_flags import red_flags_in
from consult.schemas import SettingArgs
from consult.services import answering, asking, attachments, offers, reading
from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import Role
from hospital.billing.pricing import fen_to_yuan
from hospital.billing.services import queries as billing_queries
from hospital.billing.services.orders import ItemRequest
from hospital.db import db, utcnow
from hospital.errors import DomainError
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.web.fixable_errors import undo_on_error
from hospital.web.id_fields import parse_id
from hospital.web.navigation import sign_in_page_required
from hospital.web.page_slots import STAFF_SUMMARIES
from hospital.web.tiles import Tile, add_home_tile

bp = Blueprint("consult_pages", __name__, template_folder="templates")

Page = str | WerkzeugResponse | tuple[str, int]

_YUAN_TYPED = re.compile(r"^(\d{1,9})(?:\.(\d{1,2}))?$", re.ASCII)

add_home_tile(
    Tile(
        "consult_pages.my_consultations",
        _l("Ask your doctor online"),
        _l("A follow-up question after your visit, answered in the promised time or refunded"),
        order=45,
    )
)


@bp.after_request
def _no_store(response: WerkzeugResponse) -> WerkzeugResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


def _fixable(error: DomainError) -> None:
    if error.is_refusal:
        raise error
    flash(str(error.message), "error")


@bp.get("/consult")
@sign_in_page_required
def my_consultations() -> Page:
    account = signed_in_account()
    people = patients_acting_for(account, Permission.BOOK)
    return render_template(
        "consult/mine.html",
        consultations=reading.consultations_for_account(actor=account),
        people=people,
        names={p.id: mask_name(p.name) for p in people},
    )


@bp.route("/consult/ask/<int:patient_id>", methods=["GET", "POST"])
@sign_in_page_required
def ask(patient_id: int) -> Page:
    account = signed_in_account()
    now = utcnow()
    people = {p.id: p for p in patients_acting_for(account, Permission.BOOK)}
    patient = people.get(patient_id)
    if patient is None:
        abort(404)
    choices = offers.offers_for_patient(account.hospital_id, patient.id, now=now)
    question = request.form.get("question", "")
    flags = []
    if request.method == "POST":
        clinician_id = parse_id(request.form.get("clinician_id", "")) or 0
        acknowledged = request.form.get("emergency_acknowledged") == "yes"
        flags = red_flags_in(question)
        if not flags or acknowledged:
            try:
                consultation = asking.ask(
                    actor=account,
                    patient_id=patient.id,
                    clinician_id=clinician_id,
                    question=question,
                    emergency_acknowledged=acknowledged,
                    now=now,
                )
            except DomainError as error:
                _fixable(error)
            else:
                if consultation.order_id is not None:
                    return redirect(url_for("billing_pages.pay", order_id=consultation.order_id))
                return redirect(url_for("consult_pages.thread", consultation_id=consultation.id))
    return render_template(
        "consult/ask.html",
        patient=patient,
        masked_name=mask_name(patient.name),
        offers=choices,
        question=question,
        chosen=request.form.get("clinician_id", request.args.get("clinician", "")),
        red_flags=flags,
    )


@bp.get("/consult/<int:consultation_id>")
@sign_in_page_required
def thread(consultation_id: int) -> Page:
    account = signed_in_account()
    view = reading.case(consultation_id, actor=account, now=utcnow())
    orders = {}
    for message in view.consultation.messages:
        for order_id in (message.prescription_order_id, message.lab_order_id):
            if order_id is not None:
                orders[order_id] = billing_queries.order_for_viewer(order_id, actor=account)
    fee_order = (
        billing_queries.order_for_viewer(view.consultation.order_id, actor=account)
        if view.consultation.order_id is not None and not view.as_clinician
        else None
    )
    medicines: list[Any] = []
    lab_tests: list[Any] = []
    if view.as_clinician:
        _registration_fees, items = billing_queries.fee_schedule(account.hospital_id)
        medicines = [i for i in items if i.is_active and i.category.value == "medicine"]
        lab_tests = [i for i in items if i.is_active and i.category.value == "lab_test"]
    return render_template(
        "consult/thread.html",
        view=view,
        c=view.consultation,
        masked_name=mask_name(view.patient.name),
        orders=orders,
        fee_order=fee_order,
        medicines=medicines,
        lab_tests=lab_tests,
        follow_ups_left=_follow_ups_left(view.consultation),
        files=attachments.attachments_of(view.consultation),
        can_attach=not view.as_clinician and view.consultation.status in attachments.ACCEPTING,
    )


def _follow_ups_left(consultation: Any) -> int:
    from flask import current_app

    used = sum(1 for m in consultation.messages if not m.from_clinician)
    return max(0, int(current_app.config["CONSULT_MAX_FOLLOW_UPS"]) - used)


@bp.post("/consult/<int:consultation_id>/attachments")
@sign_in_page_required
def upload(consultation_id: int) -> WerkzeugResponse:
    sent = request.files.get("file")
    try:
        attachments.attach(
            consultation_id,
            actor=signed_in_account(),
            data=sent.read() if sent is not None else b"",
            now=utcnow(),
        )
    except DomainError as error:
        _fixable(error)
    else:
        flash(_("The file is added."))
    return redirect(url_for("consult_pages.thread", consultation_id=consultation_id))


@bp.get("/consult/files/<int:attachment_id>")
@sign_in_page_required
def attachment(attachment_id: int) -> WerkzeugResponse:
    stored = attachments.open_attachment(attachment_id, actor=signed_in_account())
    response = send_file(stored.path, mimetype=stored.content_type, max_age=0, conditional=False)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        "attachment; filename=report.pdf" if stored.content_type == "application/pdf" else "inline"
    )
    return response


@bp.post("/consult/<int:consultation_id>/follow-up")
@sign_in_page_required
def follow_up(consultation_id: int) -> WerkzeugResponse:
    try:
        answering.follow_up(
            consultation_id,
            actor=signed_in_account(),
            body=request.form.get("body", ""),
            now=utcnow(),
        )
    except DomainError as error:
        _fixable(error)
    return redirect(url_for("consult_pages.thread", consultation_id=consultation_id))


@bp.post("/consult/<int:consultation_id>/close")
@sign_in_page_required
def close(consultation_id: int) -> WerkzeugResponse:
    try:
        answering.close(consultation_id, actor=signed_in_account(), now=utcnow())
    except DomainError as error:
        _fixable(error)
    return redirect(url_for("consult_pages.thread", consultation_id=consultation_id))


# ---- clinicians ---------------------------------------------------------------------------


@bp.get("/staff/consult")
@sign_in_page_required
@require_roles(Role.CLINICIAN)
def inbox() -> Page:
    account = signed_in_account()
    rows = reading.inbox(actor=account)
    names = {}
    for c in rows:
        patient = db.session.get(Patient, c.patient_id)
        names[c.id] = mask_name(patient.name) if patient is not None else ""
    own = offers.clinician_of_account(account)
    return render_template(
        "consult/inbox.html", consultations=rows, names=names, now=utcnow(), own=own
    )


def _waiting_summary(account: Any) -> Markup | None:
    waiting = reading.waiting_for(actor=account)
    if waiting is None:
        return None
    return Markup(render_template("consult/_waiting.html", waiting=waiting))


STAFF_SUMMARIES.add("consult_pages.inbox", _waiting_summary)


@bp.get("/staff/consult/settings")
@sign_in_page_required
@require_roles(Role.CLINICIAN, Role.ADMIN)
def settings() -> Page:
    """An administrator's list of every doctor's terms; a doctor goes to their own form."""
    account = signed_in_account()
    if not account.has_role(Role.ADMIN):
        own = offers.clinician_of_account(account)
        if own is None:
            abort(404)
        return redirect(url_for("consult_pages.edit_settings", clinician_id=own.id))
    return render_template("consult/settings_list.html", terms=offers.hospital_terms(actor=account))


def _fee_fen(text: str) -> int | None:
    """Yuan as typed ("20", "20.5", "20.50") -> fen; None for anything else ("1e3", "-5")."""
    match = _YUAN_TYPED.match(text.strip())
    if match is None:
        return None
    return int(match[1]) * 100 + int((match[2] or "").ljust(2, "0"))


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 9 else None


def _limits(name: str) -> Any:
    # The ranges are the API's (SettingArgs): one rule for the page and the API.
    return SettingArgs().fields[name].validators[0]


def _setting_form() -> tuple[dict[str, Any], dict[str, str]]:
    """The form's values, checked by the API's schema, and a message per bad field."""
    form = request.form
    raw = {
        "is_offered": form.get("is_offered") == "1",
        "open_to_all": form.get("open_to_all") == "1",
        "fee_fen": _fee_fen(form.get("fee_yuan", "")),
        "answer_hours": _whole(form.get("answer_hours", "")),
        "daily_cap": _whole(form.get("daily_cap", "")),
    }
    fee, hours, cap = _limits("fee_fen"), _limits("answer_hours"), _limits("daily_cap")
    messages = {
        "fee_fen": _(
            "Enter the fee in yuan, from %(low)s to %(high)s, at most two decimals (like 20 or 20.50).",
            low=fee.min // 100,
            high=fee.max // 100,
        ),
        "answer_hours": _(
            "Enter the answer time as whole hours, from %(low)s to %(high)s.",
            low=hours.min,
            high=hours.max,
        ),
        "daily_cap": _(
            "Enter the daily cap as a whole number, from %(low)s to %(high)s.",
            low=cap.min,
            high=cap.max,
        ),
    }
    errors: dict[str, str] = {}
    try:
        values: dict[str, Any] = SettingArgs().load({k: v for k, v in raw.items() if v is not None})
    except ValidationError as error:
        values = {}
        bad = error.messages if isinstance(error.messages, dict) else {}
        errors = {name: messages[name] for name in bad if name in messages}
    errors.update({name: messages[name] for name, v in raw.items() if v is None})
    field_names = {"fee_fen": "fee_yuan"}
    return values, {field_names.get(k, k): m for k, m in errors.items()}


@bp.route("/staff/consult/settings/<int:clinician_id>", methods=["GET", "POST"])
@sign_in_page_required
@require_roles(Role.CLINICIAN, Role.ADMIN)
def edit_settings(clinician_id: int) -> Page:
    """A doctor's own terms, or (for an administrator) any doctor's of the hospital."""
    account = signed_in_account()
    offer = offers.setting_for(clinician_id, actor=account)
    errors: dict[str, str] = {}
    message = None
    status = 200
    if request.method == "POST":
        values, errors = _setting_form()
        if not errors:
            with undo_on_error(let_refusals_through=True) as failed:
                offers.update_setting(clinician_id, actor=account, now=utcnow(), **values)
            if failed.error is None:
                flash(_("The consultation settings are saved."))
                return redirect(url_for("consult_pages.edit_settings", clinician_id=clinician_id))
            message, status = failed.message, failed.status
        else:
            message, status = _("Nothing is saved: please correct the fields marked below."), 400
        db.session.rollback()
    form = request.form if request.method == "POST" else None
    return (
        render_template(
            "consult/settings_edit.html",
            offer=offer,
            form=form,
            errors=errors,
            message=message,
            fee_yuan=fen_to_yuan(offer.fee_fen),
            is_admin=account.has_role(Role.ADMIN),
        ),
        status,
    )


def _items(field: str) -> list[ItemRequest]:
    chosen = []
    for raw in request.form.getlist(field):
        item_id = parse_id(raw)
        if item_id is not None:
            chosen.append(ItemRequest(item_id, 1))
    return chosen


@bp.post("/staff/consult/<int:consultation_id>/reply")
@sign_in_page_required
@require_roles(Role.CLINICIAN)
def reply(consultation_id: int) -> WerkzeugResponse:
    try:
        answering.reply(
            consultation_id,
            actor=signed_in_account(),
            body=request.form.get("body", ""),
            prescription_items=_items("medicine"),
            lab_items=_items("lab_test"),
            come_back=request.form.get("come_back") == "yes",
            link=url_for("consult_pages.thread", consultation_id=consultation_id, _external=True),
            now=utcnow(),
        )
    except DomainError as error:
        _fixable(error)
    else:
        flash(_("Your answer is sent."))
    return redirect(url_for("consult_pages.thread", consultation_id=consultation_id))


@bp.post("/staff/consult/<int:consultation_id>/decline")
@sign_in_page_required
@require_roles(Role.CLINICIAN)
def decline(consultation_id: int) -> WerkzeugResponse:
    try:
        answering.decline(
            consultation_id,
            actor=signed_in_account(),
            reason=request.form.get("reason", ""),
            now=utcnow(),
        )
    except DomainError as error:
        _fixable(error)
        return redirect(url_for("consult_pages.thread", consultation_id=consultation_id))
    flash(_("Declined. The patient is refunded in full and told why."))
    return redirect(url_for("consult_pages.inbox"))
