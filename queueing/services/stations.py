"""Paid orders move the patient on: a number at the lab draw, the pharmacy or imaging.

Billing reports a paid order (order_paid) and a refund (refund_issued); queueing's wiring
connects the receivers here. Billing never imports queueing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.db import db
from hospital.organisation.models import ServicePoint, ServicePointKind
from hospital.patients.models import Patient
from hospital.zones import local_date, zone_for
from queueing.models import (
    QueueStatus,
    ResultsReturn,
    ServiceQueue,
    StationTicket,
    Ticket,
    TicketAction,
    TicketKind,
    TicketStatus,
)
from queueing.services.issuing import _priority_for, issue
from queueing.services.queues import (
    add_event,
    get_hospital,
    get_or_create_queue,
    locked_queue,
    touch,
)

log = logging.getLogger("hospital.queueing")

# Which station an ordered item sends the patient to; other categories (a consultation fee, a
# procedure done in the room) need no number.
STATION_OF_CATEGORY: dict[str, ServicePointKind] = {
    "lab_test": ServicePointKind.LAB_DRAW,
    "medicine": ServicePointKind.PHARMACY,
    "imaging": ServicePointKind.IMAGING,
}

# A shared ticket is one the visit still waits on (or is being served at).
_OPEN = (TicketStatus.WAITING, TicketStatus.CALLED)


def stations_for(categories: Any) -> list[ServicePointKind]:
    """The stations (in a stable order) that items of these categories send the patient to."""
    found = {STATION_OF_CATEGORY[c] for c in categories or () if c in STATION_OF_CATEGORY}
    return sorted(found, key=lambda kind: kind.value)


def station_point(hospital_id: int, station: ServicePointKind) -> ServicePoint | None:
    """The hospital's active service point of that kind (the lowest code when there are several)."""
    return db.session.scalar(
        sa.select(ServicePoint)
        .where(
            ServicePoint.hospital_id == hospital_id,
            ServicePoint.kind == station,
            ServicePoint.is_active.is_(True),
        )
        .order_by(ServicePoint.code, ServicePoint.id)
        .limit(1)
    )


def request_results_return(
    *, actor: Account, order_id: int, return_queue_id: int, now: datetime
) -> ResultsReturn:
    """The clinician wants the patient back with this order's results (a returning ticket)."""
    existing = db.session.scalar(sa.select(ResultsReturn).where(ResultsReturn.order_id == order_id))
    if existing is not None:
        return existing
    row = ResultsReturn(
        hospital_id=actor.hospital_id,
        order_id=order_id,
        return_queue_id=return_queue_id,
        requested_by_account_id=actor.id,
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    return row


def issue_for_paid_order(
    *,
    hospital_id: int,
    order_id: int,
    patient_id: int,
    visit_key: str,
    categories: Any,
    now: datetime,
) -> list[Ticket]:
    """Give a paid order its number at each station its items need (at most one per station)."""
    stations = stations_for(categories)
    if not stations:
        return []
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != hospital_id:
        return []
    day = local_date(now, zone_for(get_hospital(hospital_id)))
    back = db.session.scalar(sa.select(ResultsReturn).where(ResultsReturn.order_id == order_id))
    tickets: list[Ticket] = []
    for station in stations:
        point = station_point(hospital_id, station)
        if point is None:
            log.info(
                "hospital %s has no %s service point: order %s", hospital_id, station, order_id
            )
            continue
        found, _created = get_or_create_queue(point, day, now=now, actor=None, prefix=None)
        # The queue's row lock orders concurrent payments of one visit: the later one sees the
        # earlier one's ticket below and shares it.
        queue = locked_queue(hospital_id, found.id)
        if queue.status is not QueueStatus.OPEN:
            log.info("the %s queue is closed: order %s gets no number", station, order_id)
            continue
        ticket = _ticket_for(queue, order_id, station, visit_key, patient, back, now=now)
        if ticket is not None:
            tickets.append(ticket)
    return tickets


def _ticket_for(
    queue: ServiceQueue,
    order_id: int,
    station: ServicePointKind,
    visit_key: str,
    patient: Patient,
    back: ResultsReturn | None,
    *,
    now: datetime,
) -> Ticket | None:
    if db.session.scalar(
        sa.select(StationTicket.id).where(
            StationTicket.order_id == order_id, StationTicket.station == station
        )
    ):
        return None  # this order already has its number here
    shared = db.session.scalar(
        sa.select(Ticket)
        .join(StationTicket, StationTicket.ticket_id == Ticket.id)
        .where(
            StationTicket.hospital_id == queue.hospital_id,
            StationTicket.visit_key == visit_key,
            StationTicket.station == station,
            Ticket.queue_id == queue.id,
            Ticket.patient_id == patient.id,
            Ticket.status.in_(_OPEN),
        )
        .limit(1)
    )
    if shared is not None:
        if back is not None and shared.return_queue_id is None:
            shared.return_queue_id = back.return_queue_id
        ticket = shared
    else:
        ticket = issue(
            queue=queue,
            patient=patient,
            kind=TicketKind.TRANSFER,
            priority=_priority_for(patient, None, queue, queue.service_day),
            now=now,
            actor=None,
            return_queue_id=back.return_queue_id if back is not None else None,
        )
    # The unique key (order, station) is the last word should the same order ever get here twice.
    db.session.add(
        StationTicket(
            hospital_id=queue.hospital_id,
            order_id=order_id,
            station=station,
            visit_key=visit_key,
            ticket_id=ticket.id,
            created_at=now,
        )
    )
    db.session.flush()
    return ticket


def station_tickets_of_orders(order_ids: list[int]) -> list[tuple[int, Ticket]]:
    """(order id, ticket) of each station number these orders were given."""
    if not order_ids:
        return []
    rows = db.session.execute(
        sa.select(StationTicket.order_id, Ticket)
        .join(Ticket, Ticket.id == StationTicket.ticket_id)
        .where(StationTicket.order_id.in_(order_ids))
        .order_by(StationTicket.id)
    ).all()
    return [(order_id, ticket) for order_id, ticket in rows]


def cancel_waiting_ticket(ticket_id: int, *, now: datetime, reason: str) -> bool:
    """Cancel a ticket that still waits (a refund took its reason away); True when cancelled."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        return False
    queue = locked_queue(ticket.hospital_id, ticket.queue_id)
    db.session.refresh(ticket)
    if ticket.status is not TicketStatus.WAITING:
        return False
    ticket.status = TicketStatus.CANCELLED
    ticket.finished_at = now
    add_event(ticket, TicketAction.CANCELLED, now=now, actor=None, detail=reason[:300])
    touch(queue)
    return True


def on_order_paid(_sender: Any, **kw: Any) -> None:
    """Billing reports a paid order: issue its station numbers (never refuses the payment)."""
    if kw.get("purpose") != "visit" or not kw.get("patient_id"):
        return
    issue_for_paid_order(
        hospital_id=kw["hospital_id"],
        order_id=kw["order_id"],
        patient_id=kw["patient_id"],
        visit_key=str(kw.get("visit_key") or ""),
        categories=kw.get("categories") or (),
        now=kw["now"],
    )


def on_refund_issued(_sender: Any, **kw: Any) -> None:
    """A fully refunded order no longer needs its station numbers that still wait."""
    if not kw.get("fully_refunded"):
        return
    now = kw["now"]
    rows = db.session.scalars(
        sa.select(StationTicket).where(
            StationTicket.order_id == kw["order_id"],
            StationTicket.hospital_id == kw["hospital_id"],
            StationTicket.refunded_at.is_(None),
        )
    ).all()
    for row in rows:
        row.refunded_at = now
    db.session.flush()
    for ticket_id in sorted({row.ticket_id for row in rows}):
        still_needed = db.session.scalar(
            sa.select(StationTicket.id).where(
                StationTicket.ticket_id == ticket_id, StationTicket.refunded_at.is_(None)
            )
        )
        if still_needed is None:
            cancel_waiting_ticket(ticket_id, now=now, reason=f"order {kw['order_id']} refunded")
