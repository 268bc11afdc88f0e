"""Service days and queues: open and close them, find them, lock them, count their events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, NotFound
from hospital.organisation.models import Hospital, ServicePoint, ServicePointKind
from hospital.organisation.staffing import may_work, roles_working
from hospital.zones import local_date, zone_for
from queueing.live import queue_changed
from queueing.models import Counter, QueueStatus, ServiceQueue, Ticket, TicketAction, TicketEvent

PREFIXES: dict[ServicePointKind, str] = {
    ServicePointKind.CONSULTATION_ROOM: "A",
    ServicePointKind.REGISTRATION_DESK: "R",
    ServicePointKind.CASHIER: "C",
    ServicePointKind.LAB_DRAW: "L",
    ServicePointKind.PHARMACY: "P",
    ServicePointKind.IMAGING: "I",
}


def active_service_point(hospital_id: int, service_point_id: int) -> ServicePoint:
    point = (
        db.session.get(ServicePoint, service_point_id)
        if isinstance(service_point_id, int)
        else None
    )
    if point is None or point.hospital_id != hospital_id or not point.is_active:
        raise NotFound(_l("No such service point."), code=ErrorCode.SERVICE_POINT_NOT_FOUND)
    return point


def get_hospital(hospital_id: int) -> Hospital:
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None
    return hospital


def may_work_at(*, actor: Account, point: ServicePoint) -> bool:
    """Whether this staff account's roles work the queue of this service point."""
    return may_work(actor.roles, point.kind)


def require_may_work(
    *, actor: Account | None, kind: ServicePointKind, service_point_id: int, action: str
) -> None:
    """Refuse (403, audited) a staff account whose roles do not work this kind of service point.

    No actor is the system itself (a job, a kiosk's check-in): it works every queue.
    """
    kind = ServicePointKind(kind)
    if actor is None or may_work(actor.roles, kind):
        return
    record(
        action=f"queue.{action}",
        outcome="denied",
        actor=actor,
        object_type="service_point",
        object_id=str(service_point_id),
        detail={
            "reason": "role_not_allowed",
            "kind": kind.value,
            "needs": sorted(r.value for r in roles_working(kind)),
        },
    )
    raise Forbidden(
        _l(
            "Your role does not work this queue: staff of this service point open, call and see "
            "it. Ask an administrator if you should work here."
        ),
        code=ErrorCode.QUEUE_ROLE_REQUIRED,
    )


def find_queue(point: ServicePoint, day: date) -> ServiceQueue | None:
    return db.session.scalar(
        sa.select(ServiceQueue).where(
            ServiceQueue.service_point_id == point.id, ServiceQueue.service_day == day
        )
    )


def open_queues_on(hospital_id: int, day: date) -> list[tuple[ServicePoint, ServiceQueue]]:
    """The hospital's active service points with an open queue that day, by point code."""
    rows = db.session.execute(
        sa.select(ServicePoint, ServiceQueue)
        .join(ServiceQueue, ServiceQueue.service_point_id == ServicePoint.id)
        .where(
            ServicePoint.hospital_id == hospital_id,
            ServicePoint.is_active.is_(True),
            ServiceQueue.service_day == day,
            ServiceQueue.status == QueueStatus.OPEN,
        )
        .order_by(ServicePoint.code)
    ).all()
    return [(point, queue) for point, queue in rows]


def get_or_create_queue(
    point: ServicePoint, day: date, *, now: datetime, actor: Account | None, prefix: str | None
) -> tuple[ServiceQueue, bool]:
    queue = find_queue(point, day)
    if queue is not None:
        return queue, False
    queue = ServiceQueue(
        hospital_id=point.hospital_id,
        service_point_id=point.id,
        service_day=day,
        prefix=(prefix or PREFIXES.get(point.kind, "Q"))[:4],
        status=QueueStatus.OPEN,
        opened_at=now,
        opened_by_account_id=actor.id if actor else None,
    )
    # Two openers may race (a job and a check-in): the unique constraint decides, the loser
    # re-reads the winner's row without spoiling its own transaction.
    try:
        with db.session.begin_nested():
            db.session.add(queue)
    except IntegrityError:
        existing = find_queue(point, day)
        assert existing is not None
        return existing, False
    return queue, True


def open_queue(
    *,
    actor: Account | None,
    hospital_id: int,
    service_point_id: int,
    now: datetime,
    prefix: str | None = None,
) -> ServiceQueue:
    """Open (or reopen) today's queue for a service point; opening twice returns the same queue."""
    point = active_service_point(hospital_id, service_point_id)
    require_may_work(actor=actor, kind=point.kind, service_point_id=point.id, action="open_queue")
    day = local_date(now, zone_for(get_hospital(hospital_id)))
    queue, created = get_or_create_queue(point, day, now=now, actor=actor, prefix=prefix)
    if not created and queue.status is QueueStatus.CLOSED:
        queue.status = QueueStatus.OPEN
        queue.closed_at = None
        touch(queue)
    db.session.flush()
    return queue


def close_queue(*, actor: Account, queue_id: int, now: datetime) -> ServiceQueue:
    """Stop issuing tickets; tickets already waiting are still served."""
    queue = locked_queue(actor.hospital_id, queue_id)
    point = queue.service_point
    require_may_work(actor=actor, kind=point.kind, service_point_id=point.id, action="close_queue")
    queue.status = QueueStatus.CLOSED
    queue.closed_at = now
    touch(queue)
    return queue


def open_todays_queues(*, now: datetime) -> int:
    """Open a queue for every active service point of every hospital for its local day."""
    opened = 0
    for point in db.session.scalars(
        sa.select(ServicePoint).where(ServicePoint.is_active.is_(True))
    ):
        hospital = get_hospital(point.hospital_id)
        _queue, created = get_or_create_queue(
            point, local_date(now, zone_for(hospital)), now=now, actor=None, prefix=None
        )
        opened += created
    db.session.flush()
    return opened


def locked_queue(hospital_id: int, queue_id: int) -> ServiceQueue:
    queue = (
        db.session.scalar(
            sa.select(ServiceQueue)
            .where(ServiceQueue.id == queue_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if isinstance(queue_id, int)
        else None
    )
    if queue is None or queue.hospital_id != hospital_id:
        raise NotFound(_l("No such queue."), code=ErrorCode.QUEUE_NOT_FOUND)
    return queue


def touch(queue: ServiceQueue, **values: Any) -> None:
    """Count a queue event (and write values) in one statement; screens hear of it after commit."""
    # Incremented in SQL: concurrent issuers hold no lock when they read the row.
    queue_id = queue.id
    version = db.session.execute(
        sa.update(ServiceQueue)
        .where(ServiceQueue.id == queue_id)
        .values(version=ServiceQueue.version + 1, **values)
        .returning(ServiceQueue.version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    for key, value in values.items():
        set_committed_value(queue, key, value)  # written already: the ORM must not write it again
    queue_changed(queue_id, version)


def add_event(
    ticket: Ticket,
    action: TicketAction,
    *,
    now: datetime,
    actor: Account | None,
    counter: Counter | None = None,
    detail: str = "",
    undo_state: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        hospital_id=ticket.hospital_id,
        ticket_id=ticket.id,
        action=action,
        counter_id=counter.id if counter else None,
        actor_account_id=actor.id if actor else None,
        at=now,
        detail=detail[:300],
        undo_state=undo_state,
    )
    db.session.add(event)
    return event
