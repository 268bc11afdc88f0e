"""Queues and tickets: open and close a queue, walk-ins, check-in, a ticket by its link token."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.guards import (
    access,
    current_account,
    current_device,
    require_roles,
    signed_in_account,
    token_access,
)
from hospital.accounts.models import STAFF_ROLES, DeviceKind
from hospital.db import utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from hospital.web.api_docs import file_response
from queueing import device_check_in, snapshots
from queueing.models import PriorityClass, ServiceQueue, Ticket
from queueing.rest.common import STAFF, blp, ticket_out
from queueing.schemas import (
    CheckInArgs,
    NotifyAheadArgs,
    NotifyAheadOut,
    OpenQueueArgs,
    QueueOut,
    TicketOut,
    TicketViewOut,
    WalkInArgs,
)
from queueing.services import arrivals, issuing, notify, queues

# ---- queues and tickets ---------------------------------------------------------------------


@blp.route("/queues", methods=["POST"])
@require_roles(*STAFF)
@blp.arguments(OpenQueueArgs)
@blp.response(200, QueueOut)
def open_queue(args: dict[str, Any]) -> ServiceQueue:
    """Open today's queue for a service point (opening twice returns the same queue)."""
    actor = signed_in_account()
    return queues.open_queue(
        actor=actor,
        hospital_id=actor.hospital_id,
        service_point_id=args["service_point_id"],
        now=utcnow(),
        prefix=args.get("prefix"),
    )


@blp.route("/queues/<int:queue_id>/close", methods=["POST"])
@require_roles(*STAFF)
@blp.response(200, QueueOut)
def close_queue(queue_id: int) -> ServiceQueue:
    """Close a queue: no new tickets; those waiting are still served."""
    return queues.close_queue(actor=signed_in_account(), queue_id=queue_id, now=utcnow())


def _refuse_unpaid_kiosk_walk_in(hospital_id: int) -> None:
    """A kiosk may issue a free ticket here only where walk-ins cost nothing.

    Where a walk-in fee is due, the kiosk's own walk-in registration (/api/v1/kiosk/walk-in/pay)
    takes the payment first; this endpoint must not be a way around it.
    """
    from hospital.billing.services.orders import walk_in_fee_fen

    fee_class = str(current_app.config.get("KIOSK_WALK_IN_FEE_CLASS", "general"))
    if walk_in_fee_fen(hospital_id, fee_class=fee_class) > 0:
        raise Conflict(
            _l(
                "A walk-in ticket costs the registration fee here: register through the kiosk's "
                "walk-in screen, which takes the payment first."
            ),
            code=ErrorCode.WALK_IN_FEE_DUE,
        )


@blp.route("/tickets", methods=["POST"])
@access(roles=STAFF_ROLES, devices=[DeviceKind.KIOSK])  # checked below
@blp.arguments(WalkInArgs)
@blp.response(201, TicketOut)
def issue_walk_in(args: dict[str, Any]) -> dict[str, Any]:
    """Issue a walk-in ticket (staff, or a kiosk device)."""
    actor = current_account()
    if actor is not None:
        if not actor.is_staff:
            raise Forbidden(
                _l("Only staff or a kiosk can issue walk-in tickets."), code=ErrorCode.ROLE_REQUIRED
            )
        hospital_id = actor.hospital_id
    else:
        device = current_device()
        if device is None or device.kind is not DeviceKind.KIOSK:
            raise Unauthorized(_l("Please sign in first."))
        hospital_id = device.hospital_id
        _refuse_unpaid_kiosk_walk_in(hospital_id)
    priority = PriorityClass(args["priority"]) if args.get("priority") else None
    ticket = issuing.issue_walk_in(
        actor=actor,
        hospital_id=hospital_id,
        service_point_id=args["service_point_id"],
        now=utcnow(),
        patient_id=args.get("patient_id"),
        priority=priority,
    )
    return ticket_out(ticket)


@blp.route("/check-in", methods=["POST"])
@access(signed_in=True, devices=[DeviceKind.KIOSK])  # checked below
@blp.arguments(CheckInArgs)
@blp.response(200, TicketOut)
@blp.alt_response(
    403,
    description="A device without the appointment's code, or a staff role "
    "that does not check patients in (code `proof_required` / `role_required`).",
)
@blp.alt_response(
    404,
    description="A patient's poster code that is not a check-in poster of this hospital "
    "(code `poster_code_invalid`); an appointment that is not the patient's.",
)
@blp.alt_response(
    409,
    description="Outside the check-in window (`outside_checkin_window`), or the poster hangs "
    "at another department (`poster_other_department`).",
)
@blp.alt_response(
    429,
    description="This kiosk checked in too many patients in a minute "
    "(`kiosk_rate_limited`, with Retry-After).",
)
def check_in(args: dict[str, Any]) -> dict[str, Any]:
    """Check a booked appointment in and get its ticket (twice gives the same ticket).

    Who may, and with what proof: a patient (or family with booking rights) by `appointment_id`
    with `poster_code`, the check-in poster scanned at the department's entrance, inside the
    check-in window (422 `poster_code_required`, 404 `poster_code_invalid`, 409
    `poster_other_department` or `outside_checkin_window` otherwise);
    staff who check patients in (registrar, nurse, admin) by `appointment_id`, audited; a kiosk
    device only with `code`, the text of the appointment's QR code, rate-limited per device and
    audited like the kiosk's own check-in. A device giving only an id is refused.
    """
    from hospital.patients.access import Permission, require_patient_access

    actor = current_account()
    now = utcnow()
    if actor is None:
        device = current_device()
        if device is None or device.kind is not DeviceKind.KIOSK:
            raise Unauthorized(_l("Please sign in first."))
        return ticket_out(_device_check_in(device, args, now=now))
    if "appointment_id" not in args:
        raise InvalidInput(
            _l("Staff and patients check in by appointment_id; the code is for kiosks."),
            code=ErrorCode.APPOINTMENT_ID_REQUIRED,
        )
    if actor.is_staff:
        issuing.require_check_in_role(actor=actor)
    else:
        from scheduling.services.queries import appointment_of_hospital

        appointment = appointment_of_hospital(actor.hospital_id, args["appointment_id"])
        if appointment is None:
            raise NotFound(_l("No such appointment."), code=ErrorCode.APPOINTMENT_NOT_FOUND)
        require_patient_access(
            actor, appointment.patient_id, Permission.BOOK, action="queue.check_in"
        )
        # A patient checks in on arrival: the scanned poster at the department is the proof.
        ticket, _created = arrivals.check_in_from_phone(
            actor=actor,
            appointment_id=appointment.id,
            poster_code=args.get("poster_code", ""),
            now=now,
        )
        return ticket_out(ticket)
    ticket, created = issuing.check_in(
        actor=actor, hospital_id=actor.hospital_id, appointment_id=args["appointment_id"], now=now
    )
    if actor.is_staff:
        issuing.audit_staff_check_in(actor=actor, ticket=ticket, created=created)
    return ticket_out(ticket)


def _device_check_in(device: Any, args: dict[str, Any], *, now: Any) -> Ticket:
    """A kiosk checks in only with the appointment's QR code: never by a bare id."""
    from hospital.audit.service import record

    ticket = (
        device_check_in.check_in_with_code(device, args["code"], now=now)
        if "code" in args
        else None
    )
    if ticket is None:
        record(
            action="queue.check_in",
            outcome="denied",
            device=device,
            object_type="appointment",
            object_id=str(args.get("appointment_id", "")),
            detail={"reason": "proof_required"},
        )
        raise Forbidden(
            _l(
                "A kiosk checks a patient in only with the appointment's QR code: send its "
                "text as code."
            ),
            code=ErrorCode.PROOF_REQUIRED,
        )
    return ticket


@blp.route("/tickets/<token>", methods=["GET"])
@token_access("the ticket's link token")
@blp.response(200, TicketViewOut)
def get_ticket(token: str) -> dict[str, Any]:
    """The ticket page's data: status, people ahead, ETA range, room and directions."""
    ticket = notify.ticket_by_token(token)
    state = snapshots.load_state(ticket.queue_id, now=utcnow())
    assert state is not None
    return snapshots.ticket_view(state, ticket.id)


@blp.route("/tickets/<token>/qr.svg", methods=["GET"])
@token_access("the ticket's link token")
@blp.doc(**file_response("The QR code (SVG).", "image/svg+xml"))
def ticket_qr(token: str) -> Response:
    """The ticket's QR code: it encodes only the ticket page's link (no personal data)."""
    from hospital.qr import qr_svg

    ticket = notify.ticket_by_token(token)
    return Response(qr_svg(notify.ticket_link(ticket)), mimetype="image/svg+xml")


@blp.route("/tickets/<token>", methods=["PATCH"])
@token_access("the ticket's link token")
@blp.arguments(NotifyAheadArgs)
@blp.response(200, NotifyAheadOut)
def set_notify_ahead(args: dict[str, Any], token: str) -> dict[str, Any]:
    """Choose at how many people ahead to be told to come (default 3)."""
    ticket = notify.set_notify_ahead(token=token, ahead=args["notify_ahead"])
    return {"notify_ahead": ticket.notify_ahead}
