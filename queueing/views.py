"""Pages of the virtual queue: the patient's ticket page, the staff console and the display board."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import public, require_roles, signed_in_account, token_access
from hospital.accounts.models import STAFF_ROLES, Role
from hospital.billing.references import OrderRef
from hospital.billing.services import orders as billing_orders
from hospital.billing.services import queries as billing_queries
from hospital.billing.services.queries import ItemCategory
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, InvalidInput, NotFound
from hospital.money import format_fen
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import Department, ServicePoint, ServicePointKind
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.visits.codes import looks_like_visit_code
from hospital.visits.services import refuse_visit_here, visit_at_staff_station, visit_of
from hospital.web.id_fields import is_id
from hospital.web.navigation import sign_in_page_required
from hospital.web.tiles import Tile, add_home_tile
from hospital.zones import local_date, zone_for
from queueing import snapshots
from queueing.models import (
    Counter,
    PriorityClass,
    QueueStatus,
    ServiceQueue,
    Ticket,
    TicketStatus,
)
from queueing.queries import tickets_of_patient_on
from queueing.services import (
    alerting,
    arrivals,
    counters,
    fairness_report,
    issuing,
    notify,
    queues,
    serving,
    stations,
)

bp = Blueprint("queueing_pages", __name__, template_folder="templates")

# Sentences for the ordering policy's reason codes (console "why next").
REASONS = {
    "emergency": _l("Emergency: always first."),
    "priority_turn": _l("Priority patient: one is called after every %(ratio)s regular patients."),
    "only_priority_waiting": _l("Only priority patients are waiting."),
    "waited_long": _l(
        "Has waited %(waited_minutes)s minutes: no longer passed by priority patients."
    ),
    "booked_slot": _l("Booked appointment, arrived on time: ordered by slot time."),
    "arrival_order": _l("Ordered by arrival time."),
    "requeued_after_miss": _l("Missed a call and was moved back a few places."),
}
PRIORITIES = {
    "none": _l("Regular"),
    "emergency": _l("Emergency"),
    "elderly": _l("Aged"),
    "disability": _l("Disability"),
    "pregnancy": _l("Pregnancy"),
    "returning": _l("Returning with results"),
}
PASSING_REASONS = {
    "emergency": _l("Emergency"),
    "priority:elderly": _l("Priority turn: aged"),
    "priority:disability": _l("Priority turn: disability"),
    "priority:pregnancy": _l("Priority turn: pregnancy"),
    "priority:returning": _l("Priority turn: returning with results"),
    "booked_slot": _l("Booked time, arrived on time"),
    "requeued_after_miss": _l("Put back after a missed call"),
    "staff_decision": _l("Called out of order by staff"),
    "arrival_order": _l("Earlier place in line"),
    "waited_long": _l("Waited past the bound"),
}
STATUSES = {
    "waiting": _l("Waiting"),
    "called": _l("It is your turn"),
    "serving": _l("Being served"),
    "done": _l("Finished"),
    "no_show": _l("Missed"),
    "transferred": _l("Sent to another queue"),
    "cancelled": _l("Cancelled"),
}

# Headings for service points outside any department, by kind.
KINDS = {
    ServicePointKind.CONSULTATION_ROOM: _l("Consultation rooms"),
    ServicePointKind.REGISTRATION_DESK: _l("Registration desks"),
    ServicePointKind.CASHIER: _l("Cashiers"),
    ServicePointKind.LAB_DRAW: _l("Blood draw"),
    ServicePointKind.PHARMACY: _l("Pharmacy"),
    ServicePointKind.IMAGING: _l("Imaging"),
}

# Tests a clinician orders from the console when a visit ends (paid from the patient's phone).
ORDERABLE = (ItemCategory.LAB_TEST, ItemCategory.IMAGING, ItemCategory.MEDICINE)
# Tickets still worth showing on the patient's phone.
OPEN_STATUSES = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)

add_home_tile(
    Tile(
        "queueing_pages.my_tickets",
        _l("My queue numbers"),
        _l("Your place in line today, live"),
        order=25,
    )
)


@bp.route("/tickets")
@sign_in_page_required
def my_tickets() -> str:
    """Today's queue tickets of the patients this account acts for, each linking to its live page."""
    account = signed_in_account()
    patients = {p.id: p for p in patients_acting_for(account, Permission.VIEW)}
    since = utcnow() - timedelta(hours=24)
    rows = (
        db.session.execute(
            sa.select(Ticket, ServiceQueue)
            .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
            .where(
                Ticket.hospital_id == account.hospital_id,
                Ticket.patient_id.in_(patients.keys()),
                Ticket.arrived_at >= since,
            )
            .order_by(Ticket.arrived_at.desc())
        ).all()
        if patients
        else []
    )
    return render_template(
        "queueing/my_tickets.html",
        tickets=[
            (
                ticket,
                db.session.get(ServicePoint, queue.service_point_id),
                patients[ticket.patient_id],
            )
            for ticket, queue in rows
            if ticket.patient_id in patients
        ],
        open_statuses=OPEN_STATUSES,
        statuses=STATUSES,
    )


@bp.route("/q/<token>")
@token_access("the ticket's link token")
def ticket_page(token: str) -> str:
    """The patient's ticket page (phone): big number, place in line, ETA, room; live."""
    from hospital.qr import qr_svg

    ticket = notify.ticket_by_token(token)
    # A visit's patient shows its one code at every station (on the visit page): the ticket's
    # own QR is then not shown, so the phone never offers two codes.
    visit = (
        visit_of(ticket.hospital_id, ticket.patient_id, ticket.queue.service_day)
        if ticket.patient_id is not None
        else None
    )
    return render_template(
        "queueing/ticket.html",
        ticket=ticket,
        point=ticket.queue.service_point,
        statuses=STATUSES,
        visit_code=visit.code if visit is not None else None,
        qr=Markup(qr_svg(notify.ticket_link(ticket), box_size=4)) if visit is None else "",
    )


add_home_tile(
    Tile(
        "queueing_pages.desk",
        _l("Walk-in numbers at the desk"),
        _l("Registration desk: give a number to a patient who came without booking"),
        order=91,
        show_signed_out=False,
        staff_only=True,
    )
)
add_home_tile(
    Tile(
        "queueing_pages.console_index",
        _l("Queue consoles"),
        _l("Staff: find your counter and open or close today's queue"),
        order=90,
        show_signed_out=False,
        staff_only=True,
    )
)


@dataclass(frozen=True)
class PointState:
    """A service point, its counters and the state of its queue today (for the console index)."""

    point: ServicePoint
    counters: list[Counter]
    queue: ServiceQueue | None
    waiting: int


def _today() -> date:
    return local_date(utcnow(), zone_for(current_hospital()))


def _waiting_counts(queue_ids: list[int]) -> dict[int, int]:
    if not queue_ids:
        return {}
    rows = db.session.execute(
        sa.select(Ticket.queue_id, sa.func.count())
        .where(Ticket.queue_id.in_(queue_ids), Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.queue_id)
    ).all()
    return {queue_id: count for queue_id, count in rows}


def _staff_counter(counter_id: int, action: str) -> Counter:
    """A counter of this hospital whose queue the signed-in account's roles work (else 403)."""
    return counters.counter_for_staff(
        actor=signed_in_account(), counter_id=counter_id, action=action
    )


@bp.route("/queueing/console")
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def console_index() -> str:
    """The service points whose queues the account works, by department, with today's state."""
    actor = signed_in_account()
    points = [
        point
        for point in db.session.scalars(
            sa.select(ServicePoint)
            .where(ServicePoint.hospital_id == actor.hospital_id, ServicePoint.is_active.is_(True))
            .order_by(ServicePoint.code)
        )
        if queues.may_work_at(actor=actor, point=point)
    ]
    point_ids = [p.id for p in points]
    point_counters: dict[int, list[Counter]] = {}
    todays_queues: dict[int, ServiceQueue] = {}
    if point_ids:
        for counter in db.session.scalars(
            sa.select(Counter)
            .where(Counter.service_point_id.in_(point_ids))
            .order_by(Counter.code, Counter.id)
        ):
            point_counters.setdefault(counter.service_point_id, []).append(counter)
        todays_queues = {
            q.service_point_id: q
            for q in db.session.scalars(
                sa.select(ServiceQueue).where(
                    ServiceQueue.service_point_id.in_(point_ids),
                    ServiceQueue.service_day == _today(),
                )
            )
        }
    waiting = _waiting_counts([q.id for q in todays_queues.values()])
    departments = {
        d.id: d
        for d in db.session.scalars(
            sa.select(Department).where(Department.hospital_id == actor.hospital_id)
        )
    }
    # Departments first (in their own order), then points without one, by kind.
    groups: dict[tuple[int, int, str], tuple[Department | None, Any, list[PointState]]] = {}
    for point in points:
        department = departments.get(point.department_id) if point.department_id else None
        if department is not None:
            key: tuple[int, int, str] = (0, department.sort_order, f"{department.code}")
        else:
            key = (1, list(ServicePointKind).index(point.kind), point.kind.value)
        queue = todays_queues.get(point.id)
        heading = None if department else KINDS[point.kind]
        groups.setdefault(key, (department, heading, []))[2].append(
            PointState(
                point=point,
                counters=point_counters.get(point.id, []),
                queue=queue,
                waiting=waiting.get(queue.id, 0) if queue else 0,
            )
        )
    return render_template(
        "queueing/console_index.html",
        groups=[groups[k] for k in sorted(groups)],
        open_status=QueueStatus.OPEN,
        can_print_posters=signed_in_account().has_role(*POSTER_ROLES),
    )


# ---- the registration desk: walk-in tickets for those who come to the window ----------------

DESK_ROLES = (Role.REGISTRAR, Role.NURSE, Role.ADMIN)


@bp.route("/queueing/desk", methods=["GET", "POST"])
@sign_in_page_required
@require_roles(*DESK_ROLES)
def desk() -> Any:
    """Give a walk-in patient a number at the desk (with the patient's record, or anonymous)."""
    from hospital.patients.services.records import confirm_identity, look_up_at_desk
    from hospital.qr import qr_svg

    actor = signed_in_account()
    error = None
    to_confirm = None
    if request.method == "POST":
        number = request.form.get("patient_number", "").strip()
        if number and looks_like_visit_code(number):
            visit = visit_at_staff_station(actor, number, station="desk", now=utcnow())
            patient = db.session.get(Patient, visit.patient_id)
        else:
            patient = look_up_at_desk(staff=actor, text=number) if number else None
        priority = request.form.get("priority") or "none"
        try:
            if number and patient is None:
                raise InvalidInput(
                    _l(
                        "No patient has this record or identity number. Check it, or leave it empty."
                    ),
                    code=ErrorCode.PATIENT_NOT_FOUND,
                )
            if priority not in PRIORITIES:
                raise InvalidInput(
                    _l("Choose a priority from the list."), code=ErrorCode.BAD_PRIORITY
                )
            if patient is not None and patient.identity_confirmed_at is None:
                # A record a family account made: staff check the person before it is used.
                if request.form.get("identity_checked") == str(patient.id):
                    confirm_identity(staff=actor, patient_id=patient.id, now=utcnow())
                else:
                    to_confirm = patient
            if to_confirm is None:
                ticket = issuing.issue_walk_in(
                    actor=actor,
                    hospital_id=actor.hospital_id,
                    service_point_id=_int_form("service_point_id"),
                    now=utcnow(),
                    patient_id=patient.id if patient else None,
                    priority=PriorityClass(priority) if priority != "none" else None,
                )
        except DomainError as exc:
            error = exc.message  # answered with 422: the request edge rolls back
            to_confirm = None
        else:
            if to_confirm is None:
                # Redirect, so reloading the page never issues a second number.
                return redirect(url_for("queueing_pages.desk", ticket=ticket.token))
    issued = None
    if request.args.get("ticket"):
        issued = notify.ticket_by_token(request.args["ticket"])
        if issued.hospital_id != actor.hospital_id:
            raise NotFound(_l("No such ticket."), code=ErrorCode.TICKET_NOT_FOUND)
    patient = db.session.get(Patient, issued.patient_id) if issued and issued.patient_id else None
    page = render_template(
        "queueing/desk.html",
        points=[point for point, _queue in queues.open_queues_on(actor.hospital_id, _today())],
        priorities={k: str(v) for k, v in PRIORITIES.items()},
        error=error,
        issued=issued,
        masked_name=mask_name(patient.name) if patient else "",
        ahead=snapshots.people_ahead(issued, utcnow()) if issued else None,
        qr=Markup(qr_svg(notify.ticket_link(issued), box_size=4)) if issued else "",
        form=request.form,
        to_confirm=to_confirm,
        confirm_name=mask_name(to_confirm.name) if to_confirm else "",
    )
    return (page, 422) if error else page


def _int_form(name: str) -> Any:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else None


@bp.route("/queueing/console/<int:counter_id>")
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def console_page(counter_id: int) -> str:
    """The staff console for one counter."""
    actor = signed_in_account()
    counter = _staff_counter(counter_id, "console.open")
    queue = queues.find_queue(counter.service_point, _today())
    others = (
        db.session.query(ServicePoint)
        .filter(
            ServicePoint.hospital_id == actor.hospital_id,
            ServicePoint.id != counter.service_point_id,
            ServicePoint.is_active.is_(True),
        )
        .order_by(ServicePoint.code)
        .all()
    )
    can_order = actor.has_role(*billing_orders.STAFF_ORDERING_ROLES)
    return render_template(
        "queueing/console.html",
        counter=counter,
        point=counter.service_point,
        others=others,
        reasons={k: str(v) for k, v in REASONS.items()},
        priorities={k: str(v) for k, v in PRIORITIES.items()},
        alert_messages={k: str(v) for k, v in alerting.MESSAGES.items()},
        orderable=_orderable_items(actor.hospital_id) if can_order else [],
        queue=queue,
        waiting=_waiting_counts([queue.id]).get(queue.id, 0) if queue else 0,
        open_status=QueueStatus.OPEN,
    )


@bp.route("/queueing/console/<int:counter_id>/find")
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def console_find(counter_id: int) -> str:
    """Find the patient's ticket in this counter's queue today by the visit code they show."""
    actor = signed_in_account()
    counter = _staff_counter(counter_id, "console.find")
    code = request.args.get("code", "").strip()
    if not code:
        raise InvalidInput(
            _l("Scan or type the patient's visit code."), code=ErrorCode.VISIT_NOT_FOUND
        )
    now = utcnow()
    visit = visit_at_staff_station(actor, code, station="counter", now=now)
    queue = queues.find_queue(counter.service_point, _today())
    found = [
        t
        for t in tickets_of_patient_on(actor.hospital_id, visit.patient_id, visit.service_date)
        if queue is not None and t.queue_id == queue.id
    ]
    if not found:
        raise refuse_visit_here(actor, visit, station="counter", reason="no_ticket_here")
    ticket = next((t for t in reversed(found) if t.status in OPEN_STATUSES), found[-1])
    patient = db.session.get(Patient, visit.patient_id)
    return render_template(
        "queueing/console_find.html",
        counter=counter,
        point=counter.service_point,
        ticket=ticket,
        statuses=STATUSES,
        masked_name=mask_name(patient.name) if patient else "",
        ahead=snapshots.people_ahead(ticket, now),
    )


@bp.post("/queueing/console/<int:counter_id>/open-queue")
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def open_queue(counter_id: int) -> WerkzeugResponse:
    """Open (or reopen) today's queue of this counter's service point."""
    actor = signed_in_account()
    counter = _staff_counter(counter_id, "open_queue")
    queues.open_queue(
        actor=actor,
        hospital_id=actor.hospital_id,
        service_point_id=counter.service_point_id,
        now=utcnow(),
    )
    flash(_("Today's queue is open: patients can take numbers."), "success")
    return redirect(url_for("queueing_pages.console_page", counter_id=counter_id), 303)


@bp.route("/queueing/console/<int:counter_id>/close-queue", methods=["GET", "POST"])
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def close_queue(counter_id: int) -> str | WerkzeugResponse:
    """Ask to confirm, then close today's queue: no new numbers; those waiting are still served."""
    actor = signed_in_account()
    counter = _staff_counter(counter_id, "close_queue")
    queue = queues.find_queue(counter.service_point, _today())
    if queue is None:
        raise NotFound(_l("This counter's queue is not open today."), code=ErrorCode.QUEUE_NOT_OPEN)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template(
            "queueing/close_queue.html",
            counter=counter,
            point=counter.service_point,
            queue=queue,
            waiting=_waiting_counts([queue.id]).get(queue.id, 0),
            open_status=QueueStatus.OPEN,
        )
    queues.close_queue(actor=actor, queue_id=queue.id, now=utcnow())
    flash(
        _("The queue is closed: no new numbers. Patients already waiting are still served."),
        "success",
    )
    return redirect(url_for("queueing_pages.console_page", counter_id=counter_id), 303)


def _orderable_items(hospital_id: int) -> list[billing_queries.FeeItem]:
    return billing_queries.active_fee_items(hospital_id, ORDERABLE)


@bp.post("/queueing/console/<int:counter_id>/complete-and-order")
@sign_in_page_required
@require_roles(*billing_orders.STAFF_ORDERING_ROLES)
def complete_and_order(counter_id: int) -> WerkzeugResponse:
    """The clinician ends the visit at this counter and orders tests for the patient, in one step."""
    actor = signed_in_account()
    now = utcnow()
    chosen = {int(v) for v in request.form.getlist("fee_item_id") if v.isdigit() and len(v) < 10}
    counters.counter_for_staff(
        actor=actor, counter_id=counter_id, action="queue.complete_and_order"
    )
    try:
        if not chosen:
            raise InvalidInput(_l("Choose at least one test to order."), code=ErrorCode.ORDER_EMPTY)
        ticket = serving.complete(
            actor=actor, hospital_id=actor.hospital_id, counter_id=counter_id, now=now
        )
        if ticket.patient_id is None:
            raise InvalidInput(
                _l("This ticket has no registered patient; order tests at the cashier."),
                code=ErrorCode.TICKET_WITHOUT_PATIENT,
            )
        visit = (
            OrderRef.appointment(ticket.appointment_id)
            if ticket.appointment_id
            else OrderRef.ticket(ticket.id)
        )
        order = billing_orders.create_visit_order(
            actor=actor,
            patient_id=ticket.patient_id,
            items=[billing_orders.ItemRequest(fee_item_id=i, quantity=1) for i in sorted(chosen)],
            visit_key=visit.format(),
            now=now,
        )
        if request.form.get("come_back") == "yes":
            # Once paid, the station numbers lead back to this room with priority.
            stations.request_results_return(
                actor=actor, order_id=order.id, return_queue_id=ticket.queue_id, now=now
            )
    except DomainError as exc:
        if exc.is_refusal:
            raise
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("queueing_pages.console_page", counter_id=counter_id), 303)
    patient = db.session.get(Patient, ticket.patient_id)
    flash(
        _(
            "%(code)s finished. Tests ordered for %(name)s: %(total)s to pay from the phone.",
            code=ticket.code,
            name=mask_name(patient.name) if patient else "",
            total=format_fen(order.self_pay_fen),
        ),
        "success",
    )
    return redirect(url_for("queueing_pages.console_page", counter_id=counter_id))


# Staff who print a service point's check-in poster.
POSTER_ROLES = (Role.ADMIN, Role.REGISTRAR, Role.NURSE)


@bp.route("/arrive", methods=["GET"])
@sign_in_page_required
def arrive_start() -> Any:
    """ "I have arrived": scan the poster at the entrance, or type the code printed under it."""
    code = request.args.get("poster_code", "").strip()
    if code:
        return redirect(url_for("queueing_pages.arrive", code=code[:100]))
    return render_template(
        "queueing/arrive.html", point=None, appointments=[], names={}, error=None
    )


def _arrivals_at(account: Any, point: ServicePoint) -> list[Any]:
    """Today's appointments of the patients the account books for that check in at this point."""
    from scheduling.services.queries import (
        AppointmentState,
        appointments_for_account,
        room_of_session,
    )

    allowed = {p.id for p in patients_acting_for(account, Permission.BOOK)}
    today = _today()
    found = []
    for appointment in appointments_for_account(actor=account, now=utcnow()):
        session = appointment.slot.session
        if (
            appointment.patient_id in allowed
            and appointment.local_date == today
            and appointment.state in (AppointmentState.BOOKED, AppointmentState.CHECKED_IN)
            and (
                room_of_session(session) == point.id or session.department_id == point.department_id
            )
        ):
            found.append(appointment)
    return found


@bp.route("/arrive/<code>", methods=["GET", "POST"])
@sign_in_page_required
def arrive(code: str) -> Any:
    """The page a check-in poster's QR opens: check in today's appointment here, get the number."""
    account = signed_in_account()
    point = arrivals.point_of_poster(account.hospital_id, code)
    error = None
    if request.method == "POST":
        try:
            ticket, _created = arrivals.check_in_from_phone(
                actor=account,
                appointment_id=_int_form("appointment_id"),
                poster_code=code,
                now=utcnow(),
            )
        except DomainError as exc:
            if exc.is_refusal or exc.status == 404:
                raise
            db.session.rollback()
            error = exc.message
        else:
            return redirect(url_for("queueing_pages.ticket_page", token=ticket.token), 303)
    page = render_template(
        "queueing/arrive.html",
        point=point,
        code=code,
        appointments=_arrivals_at(account, point),
        names={p.id: p.name for p in patients_acting_for(account, Permission.BOOK)},
        error=error,
    )
    return (page, 409) if error else page


@bp.route("/queueing/points/<int:service_point_id>/poster")
@sign_in_page_required
@require_roles(*POSTER_ROLES)
def poster_page(service_point_id: int) -> str:
    """The printable check-in poster of a service point: a large QR the phones scan on arrival."""
    from hospital.qr import qr_svg

    actor = signed_in_account()
    point = queues.active_service_point(actor.hospital_id, service_point_id)
    code = arrivals.poster_code_of(point)
    return render_template(
        "queueing/poster.html",
        point=point,
        code=code,
        qr=Markup(qr_svg(arrivals.poster_link(code), box_size=12)),
    )


@bp.route("/queueing/fairness")
@sign_in_page_required
@require_roles(Role.ADMIN, Role.NURSE)
def fairness_page() -> str:
    """The daily fairness report: longest waits per class against the bound, passing calls."""
    raw = request.args.get("day", "")
    try:
        day = date.fromisoformat(raw) if raw else _today()
    except ValueError:
        raise InvalidInput(
            _l("Give the day as YYYY-MM-DD."), code=ErrorCode.BAD_STATISTICS_RANGE
        ) from None
    report = fairness_report.daily_report(actor=signed_in_account(), day=day)
    return render_template(
        "queueing/fairness.html",
        day=day,
        report=report,
        priorities={k: str(v) for k, v in PRIORITIES.items()},
        reasons={k: str(v) for k, v in PASSING_REASONS.items()},
    )


@bp.route("/queueing/board")
@public("display board: masked names and ticket numbers only")
def board_page() -> str:
    """The display board (landscape, full screen) of a department or of listed service points."""
    points = request.args.get("points", "")
    department = request.args.get("department", "")
    parts = points.split(",") if points else []
    if department.isdigit() and not points:
        scope = f"department={int(department)}"
    elif parts and len(parts) <= 20 and all(p.isdigit() for p in parts):
        scope = "points=" + ",".join(parts)
    else:
        raise InvalidInput(
            _l("Give the board a department (?department=2) or service points (?points=1,2,3)."),
            code=ErrorCode.BOARD_SCOPE_REQUIRED,
        )
    if not parts and is_id(int(department)):
        # A department's board shows the posters of its own service points.
        parts = [
            str(point_id)
            for point_id in db.session.scalars(
                sa.select(ServicePoint.id)
                .where(
                    ServicePoint.department_id == int(department),
                    ServicePoint.is_active.is_(True),
                )
                .order_by(ServicePoint.code)
                .limit(4)
            )
        ]
    return render_template("queueing/board.html", scope=scope, posters=_board_posters(parts))


def _board_posters(point_ids: list[str]) -> list[tuple[ServicePoint, Markup]]:
    """The check-in poster QR of (up to four of) the service points the board shows."""
    from hospital.qr import qr_svg

    hospital = current_hospital()
    posters = []
    for text in point_ids[:4]:
        point = db.session.get(ServicePoint, int(text)) if is_id(int(text)) else None
        if point is not None and point.hospital_id == hospital.id and point.is_active:
            code = arrivals.poster_code_of(point)
            posters.append((point, Markup(qr_svg(arrivals.poster_link(code), box_size=4))))
    return posters
