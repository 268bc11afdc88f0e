"""The staff console: the counter index, one counter's page, find by code, open, close and order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from hospital.accounts.guards import require_roles, signed_in_account
from hospital.accounts.models import STAFF_ROLES
from hospital.billing.references import OrderRef
from hospital.billing.services import orders as billing_orders
from hospital.billing.services import queries as billing_queries
from hospital.db import db, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import DomainError, InvalidInput, NotFound
from hospital.money import format_fen
from hospital.organisation.models import Department, ServicePoint, ServicePointKind
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.visits.services import refuse_visit_here, visit_at_staff_station
from hospital.web.navigation import sign_in_page_required
from queueing import snapshots
from queueing.models import Counter, QueueStatus, ServiceQueue, Ticket, TicketStatus
from queueing.pages.common import (
    KINDS,
    OPEN_STATUSES,
    ORDERABLE,
    POSTER_ROLES,
    PRIORITIES,
    REASONS,
    STATUSES,
    bp,
    service_today,
)
from queueing.queries import tickets_of_patient_on
from queueing.services import alerting, counters, queues, serving, stations


@dataclass(frozen=True)
class PointState:
    """A service point, its counters and the state of its queue today (for the console index)."""

    point: ServicePoint
    counters: list[Counter]
    queue: ServiceQueue | None
    waiting: int


def _waiting_counts(queue_ids: list[int]) -> dict[int, int]:
    if not queue_ids:
        return {}
    rows = db.session.execute(
        sa.select(Ticket.queue_id, sa.func.count())
        .where(Ticket.queue_id.in_(queue_ids), Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.queue_id)
    ).all()
    return {queue_id: count for queue_id, count in rows}


# Where a patient is usually sent next from a counter: tests first, then imaging, the pharmacy,
# another room. The cashier and the registration desk come last: payment happens on the phone.
_TRANSFER_PREFERENCE = (
    ServicePointKind.LAB_DRAW,
    ServicePointKind.IMAGING,
    ServicePointKind.PHARMACY,
    ServicePointKind.CONSULTATION_ROOM,
    ServicePointKind.REGISTRATION_DESK,
    ServicePointKind.CASHIER,
)


def default_transfer_target(point: ServicePoint, others: list[ServicePoint]) -> ServicePoint | None:
    """The station the console's transfer list preselects (never the cashier while another
    station exists): from a room, the lab; from a station, a room of the same department."""

    def rank(other: ServicePoint) -> tuple[int, int, str]:
        kind = _TRANSFER_PREFERENCE.index(other.kind)
        if point.kind is not ServicePointKind.CONSULTATION_ROOM and (
            other.kind is ServicePointKind.CONSULTATION_ROOM
        ):
            kind = -1  # back from a station to a doctor
        same_department = (
            0 if point.department_id and other.department_id == point.department_id else 1
        )
        return (kind, same_department, other.code)

    return min(others, key=rank, default=None)


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
                    ServiceQueue.service_day == service_today(),
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


@bp.route("/queueing/console/<int:counter_id>")
@sign_in_page_required
@require_roles(*STAFF_ROLES)
def console_page(counter_id: int) -> str:
    """The staff console for one counter."""
    actor = signed_in_account()
    counter = _staff_counter(counter_id, "console.open")
    queue = queues.find_queue(counter.service_point, service_today())
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
        default_target=default_transfer_target(counter.service_point, others),
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
    queue = queues.find_queue(counter.service_point, service_today())
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
        ahead=snapshots.people_ahead(ticket, now=now),
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
    queue = queues.find_queue(counter.service_point, service_today())
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
