"""REST endpoints of online follow-up consultations (/api/v1/consult)."""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask_smorest import Blueprint

from consult import presenting
from consult.schemas import (
    AskArgs,
    ConsultationOut,
    DeclineArgs,
    FollowUpArgs,
    OfferOut,
    OffersArgs,
    ReplyArgs,
    SettingArgs,
)
from consult.services import answering, asking, offers, reading
from hospital.accounts.guards import require_roles, require_signed_in, signed_in_account
from hospital.accounts.models import Role
from hospital.billing.services.orders import ItemRequest
from hospital.db import utcnow
from hospital.patients.access import Permission, require_patient_access

blp = Blueprint(
    "consult_api",
    __name__,
    description="Online follow-up consultations (复诊咨询): ask a doctor after a visit, pay, "
    "get an answer in the promised time or a full refund.",
)


@blp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def thread_link(consultation_id: int) -> str:
    return url_for("consult_pages.thread", consultation_id=consultation_id, _external=True)


@blp.route("/offers", methods=["GET"])
@require_signed_in
@blp.arguments(OffersArgs, location="query")
@blp.response(200, OfferOut(many=True))
@blp.alt_response(404, description="No such patient linked to this account.")
def list_offers(args: dict[str, Any]) -> list[dict[str, Any]]:
    """The clinicians this patient may ask now, with their fee and promised answer time."""
    actor = signed_in_account()
    patient = require_patient_access(
        actor, args["patient_id"], Permission.BOOK, action="consult.offers"
    )
    return [
        presenting.offer_dict(o)
        for o in offers.offers_for_patient(patient.hospital_id, patient.id, now=utcnow())
    ]


@blp.route("/consultations", methods=["POST"])
@require_signed_in
@blp.arguments(AskArgs)
@blp.response(201, ConsultationOut)
@blp.alt_response(403, description="The clinician takes no questions from this patient (today).")
@blp.alt_response(404, description="No such patient linked to this account.")
@blp.alt_response(
    422, description="Red-flag symptoms: read the emergency warning, then send again."
)
def ask(args: dict[str, Any]) -> dict[str, Any]:
    """Ask a clinician a question; pay its fee order through billing to send it."""
    consultation = asking.ask(actor=signed_in_account(), now=utcnow(), **args)
    return presenting.consultation_dict(consultation)


@blp.route("/consultations", methods=["GET"])
@require_signed_in
@blp.response(200, ConsultationOut(many=True))
def my_consultations() -> list[dict[str, Any]]:
    """The consultations of the patients this account asks for, newest first."""
    return [
        presenting.consultation_dict(c)
        for c in reading.consultations_for_account(actor=signed_in_account())
    ]


@blp.route("/consultations/<int:consultation_id>", methods=["GET"])
@require_signed_in
@blp.response(200, ConsultationOut)
@blp.alt_response(404, description="No such consultation for this account.")
def get_consultation(consultation_id: int) -> dict[str, Any]:
    """One consultation and its messages (its clinician's read is audited)."""
    view = reading.case(consultation_id, actor=signed_in_account(), now=utcnow())
    return presenting.consultation_dict(view.consultation)


@blp.route("/consultations/<int:consultation_id>/follow-ups", methods=["POST"])
@require_signed_in
@blp.arguments(FollowUpArgs)
@blp.response(201, ConsultationOut)
@blp.alt_response(404, description="No such consultation for this account.")
@blp.alt_response(409, description="Not answered yet, closed, or the follow-ups are used up.")
def follow_up(args: dict[str, Any], consultation_id: int) -> dict[str, Any]:
    """The patient's side writes again after an answer (a few times, until it closes)."""
    message = answering.follow_up(
        consultation_id, actor=signed_in_account(), body=args["body"], now=utcnow()
    )
    return presenting.consultation_dict(message.consultation)


@blp.route("/consultations/<int:consultation_id>/close", methods=["POST"])
@require_signed_in
@blp.response(200, ConsultationOut)
@blp.alt_response(404, description="No such consultation for this account.")
@blp.alt_response(409, description="Not answered yet: it cannot be closed.")
def close(consultation_id: int) -> dict[str, Any]:
    """End an answered conversation (the patient's side or the clinician)."""
    consultation = answering.close(consultation_id, actor=signed_in_account(), now=utcnow())
    return presenting.consultation_dict(consultation)


@blp.route("/consultations/<int:consultation_id>/replies", methods=["POST"])
@require_roles(Role.CLINICIAN)
@blp.arguments(ReplyArgs)
@blp.response(201, ConsultationOut)
@blp.alt_response(404, description="No such consultation asked of this clinician.")
@blp.alt_response(409, description="Closed, refunded or declined: no more replies.")
@blp.alt_response(422, description="An item is not in the fee schedule.")
def reply(args: dict[str, Any], consultation_id: int) -> dict[str, Any]:
    """The clinician answers; may renew a prescription, order lab tests or ask them to come in."""
    message = answering.reply(
        consultation_id,
        actor=signed_in_account(),
        body=args["body"],
        prescription_items=[
            ItemRequest(i["fee_item_id"], i["quantity"]) for i in args["prescription"]
        ],
        lab_items=[ItemRequest(i["fee_item_id"], i["quantity"]) for i in args["lab_tests"]],
        come_back=args["come_back"],
        link=thread_link(consultation_id),
        now=utcnow(),
    )
    return presenting.consultation_dict(message.consultation)


@blp.route("/consultations/<int:consultation_id>/decline", methods=["POST"])
@require_roles(Role.CLINICIAN)
@blp.arguments(DeclineArgs)
@blp.response(200, ConsultationOut)
@blp.alt_response(404, description="No such consultation asked of this clinician.")
@blp.alt_response(409, description="Already answered or ended.")
def decline(args: dict[str, Any], consultation_id: int) -> dict[str, Any]:
    """The clinician declines an unanswered question with a reason; the fee is refunded in full."""
    consultation = answering.decline(
        consultation_id, actor=signed_in_account(), reason=args["reason"], now=utcnow()
    )
    return presenting.consultation_dict(consultation)


@blp.route("/inbox", methods=["GET"])
@require_roles(Role.CLINICIAN)
@blp.response(200, ConsultationOut(many=True))
@blp.alt_response(403, description="The account has no clinician profile.")
def inbox() -> list[dict[str, Any]]:
    """The clinician's open and answered consultations, the nearest deadline first (audited)."""
    return [presenting.consultation_dict(c) for c in reading.inbox(actor=signed_in_account())]


@blp.route("/clinicians/<int:clinician_id>/settings", methods=["GET"])
@require_roles(Role.CLINICIAN, Role.ADMIN)
@blp.response(200, OfferOut)
@blp.alt_response(403, description="Only an administrator or the clinician themself.")
@blp.alt_response(404, description="No clinician with this id.")
def get_setting(clinician_id: int) -> dict[str, Any]:
    """A clinician's consultation terms (their settings, or the hospital's defaults)."""
    offer = offers.setting_for(clinician_id, actor=signed_in_account())
    return presenting.offer_dict(offer)


@blp.route("/clinicians/<int:clinician_id>/settings", methods=["PUT"])
@require_roles(Role.CLINICIAN, Role.ADMIN)
@blp.arguments(SettingArgs)
@blp.response(200, OfferOut)
@blp.alt_response(403, description="Only an administrator or the clinician themself.")
@blp.alt_response(404, description="No clinician with this id.")
def put_setting(args: dict[str, Any], clinician_id: int) -> dict[str, Any]:
    """Set a clinician's consultation terms: on/off, open to all, fee, answer time, daily cap."""
    offer = offers.update_setting(clinician_id, actor=signed_in_account(), now=utcnow(), **args)
    return presenting.offer_dict(offer)
