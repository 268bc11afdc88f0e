"""Queues per service point per local service day, their counters and tickets."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow
from hospital.organisation.models import ServicePoint, ServicePointKind


class QueueStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class TicketStatus(enum.StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)


class TicketKind(enum.StrEnum):
    BOOKED = "booked"
    WALK_IN = "walk_in"
    TRANSFER = "transfer"


class PriorityClass(enum.StrEnum):
    NONE = "none"
    EMERGENCY = "emergency"
    ELDERLY = "elderly"
    DISABILITY = "disability"
    PREGNANCY = "pregnancy"
    RETURNING = "returning"  # back with test results (or from a transfer)


class ServiceQueue(Model):
    """One service point's queue for one local service day; holds the gap-free number counter."""

    __tablename__ = "service_queue"
    __table_args__ = (
        sa.UniqueConstraint("service_point_id", "service_day"),
        sa.CheckConstraint("last_number >= 0", name="last_number_not_negative"),
        sa.CheckConstraint("priority_ratio >= 1", name="priority_ratio_positive"),
        sa.CheckConstraint("max_misses >= 1", name="max_misses_positive"),
        sa.CheckConstraint("lease_seconds > 0", name="lease_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    service_day: Mapped[date] = mapped_column(sa.Date)  # local date in the hospital's zone
    prefix: Mapped[str] = mapped_column(sa.String(4))
    status: Mapped[QueueStatus] = enum_column(QueueStatus, default=QueueStatus.OPEN)
    # The number of the last ticket issued: incremented in the issuing transaction (invariant 4).
    last_number: Mapped[int] = mapped_column(default=0)
    # Bumped by every queue event; screens use it to know their snapshot is current.
    version: Mapped[int] = mapped_column(default=0)
    # Regular tickets called since the last priority one (the ratio's state).
    regular_since_priority: Mapped[int] = mapped_column(default=0)
    priority_ratio: Mapped[int] = mapped_column(default=2)  # one priority per this many regular
    ageing_minutes: Mapped[int] = mapped_column(default=60)
    arrival_grace_minutes: Mapped[int] = mapped_column(default=10)
    miss_setback: Mapped[int] = mapped_column(default=3)
    max_misses: Mapped[int] = mapped_column(default=2)
    lease_seconds: Mapped[int] = mapped_column(default=120)
    default_service_seconds: Mapped[int] = mapped_column(default=300)
    elder_age: Mapped[int] = mapped_column(default=80)
    # The wait range's calibration (factors around the expected wait), refitted by a job from the
    # service point's judged estimates; None until there are enough of them.
    eta_low_factor: Mapped[float | None] = mapped_column(sa.Float)
    eta_high_factor: Mapped[float | None] = mapped_column(sa.Float)
    eta_samples: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    service_point: Mapped[ServicePoint] = relationship()


class CallRule(enum.StrEnum):
    """How a counter serving several queues picks the next one."""

    LONGEST_WAIT = "longest_wait"  # whoever, among each queue's next patient, waited longest
    PRIORITY_ORDER = "priority_order"  # the first queue, in the counter's order, with anyone


class Counter(Model):
    """A place staff call from (a consultation room's desk, cashier window 3)."""

    __tablename__ = "queue_counter"
    __table_args__ = (sa.UniqueConstraint("service_point_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(16))
    name_zh: Mapped[str] = mapped_column(sa.String(100), default="")
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    is_paused: Mapped[bool] = mapped_column(default=False)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when staff said
    # The ticket this counter has called or is serving: unique, so a ticket is at one counter.
    # (No foreign key: ticket already refers to queue_counter, and a cycle breaks table drops.)
    current_ticket_id: Mapped[int | None] = mapped_column(unique=True)
    call_rule: Mapped[CallRule] = enum_column(CallRule, default=CallRule.LONGEST_WAIT)

    service_point: Mapped[ServicePoint] = relationship()


class CounterQueue(Model):
    """A further service point whose queue a counter also calls from (its own comes first)."""

    __tablename__ = "queue_counter_queue"
    __table_args__ = (sa.UniqueConstraint("counter_id", "service_point_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    counter_id: Mapped[int] = mapped_column(sa.ForeignKey("queue_counter.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"))
    position: Mapped[int] = mapped_column()  # 1, 2, …: the order for the priority rule


class Ticket(Model):
    """A patient's place in one queue: number (A012), opaque token for the ticket page."""

    __tablename__ = "ticket"
    __table_args__ = (
        sa.UniqueConstraint("queue_id", "number"),
        sa.CheckConstraint("number > 0", name="number_positive"),
        sa.CheckConstraint("misses >= 0", name="misses_not_negative"),
        sa.CheckConstraint(
            "status NOT IN ('called', 'serving') OR counter_id IS NOT NULL",
            name="called_has_counter",
        ),
        sa.Index("ix_ticket_queue_status", "queue_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    queue_id: Mapped[int] = mapped_column(sa.ForeignKey("service_queue.id"))
    number: Mapped[int] = mapped_column()
    code: Mapped[str] = mapped_column(sa.String(12))  # prefix + zero-padded number
    token: Mapped[str] = mapped_column(sa.String(43), unique=True)
    kind: Mapped[TicketKind] = enum_column(TicketKind)
    status: Mapped[TicketStatus] = enum_column(TicketStatus, default=TicketStatus.WAITING)
    priority: Mapped[PriorityClass] = enum_column(PriorityClass, default=PriorityClass.NONE)
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    # The scheduling appointment checked in (no FK: queueing only reads scheduling by id).
    appointment_id: Mapped[int | None] = mapped_column(unique=True)
    slot_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the ticket stands among regular (or priority) tickets: earlier goes first.
    order_key: Mapped[datetime] = mapped_column(UTCDateTime)
    misses: Mapped[int] = mapped_column(default=0)
    counter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queue_counter.id"))
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_count: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_out_of_order_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    notify_ahead: Mapped[int] = mapped_column(default=3)
    transferred_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket.id"))
    # After this ticket is served, issue a returning ticket in that queue (doctor -> lab -> doctor).
    return_queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_queue.id"))
    issued_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    queue: Mapped[ServiceQueue] = relationship(foreign_keys=[queue_id])


class TicketAction(enum.StrEnum):
    ISSUED = "issued"
    CALLED = "called"
    RECALLED = "recalled"
    STARTED = "started"
    COMPLETED = "completed"
    MISSED = "missed"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    LEASE_EXPIRED = "lease_expired"
    CANCELLED = "cancelled"
    UNDONE = "undone"  # a counter's last action taken back (detail: which event)


class TicketEvent(Model):
    """Who did what to a ticket and when (append-only: an undo adds an `undone` event and only
    marks the event it took back)."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    action: Mapped[TicketAction] = enum_column(TicketAction)
    counter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queue_counter.id"))
    actor_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str] = mapped_column(sa.String(300), default="")
    # What a counter's undo needs to put back (the ticket's place, the queue's ratio state).
    undo_state: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WaitEstimate(Model):
    """A wait range as the patient's ticket page showed it, and, once called, how it fared."""

    __tablename__ = "queue_wait_estimate"
    __table_args__ = (
        sa.Index("ix_queue_wait_estimate_queue_judged", "queue_id", "judged"),
        sa.Index("ix_queue_wait_estimate_point_judged_at", "service_point_id", "judged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    queue_id: Mapped[int] = mapped_column(sa.ForeignKey("service_queue.id"))
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"))
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ahead: Mapped[int] = mapped_column()
    expected_seconds: Mapped[int] = mapped_column()
    low_minutes: Mapped[int] = mapped_column()
    high_minutes: Mapped[int] = mapped_column()
    judged: Mapped[bool] = mapped_column(default=False)
    judged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Seconds from shown to the first call; None when the ticket ended without a call.
    actual_seconds: Mapped[int | None] = mapped_column()
    inside: Mapped[bool | None] = mapped_column()


class AlertThresholds(Model):
    """When the console and the staff home warn about a service point's queue (per point, so
    they hold every day); a point without a row uses the defaults."""

    __tablename__ = "queue_alert_thresholds"
    __table_args__ = (
        sa.UniqueConstraint("service_point_id"),
        sa.CheckConstraint("booked_wait_minutes > 0", name="booked_wait_positive"),
        sa.CheckConstraint("longest_wait_minutes > 0", name="longest_wait_positive"),
        sa.CheckConstraint("pause_overrun_minutes >= 0", name="pause_overrun_not_negative"),
        sa.CheckConstraint("calls_without_coming >= 2", name="calls_at_least_two"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(sa.ForeignKey("service_point.id"))
    # A booked patient who checked in has waited this long.
    booked_wait_minutes: Mapped[int] = mapped_column(default=30)
    # The longest wait in the queue passed this.
    longest_wait_minutes: Mapped[int] = mapped_column(default=60)
    # A paused counter is this much later than it said it would be back.
    pause_overrun_minutes: Mapped[int] = mapped_column(default=5)
    # A patient was called this many times without coming.
    calls_without_coming: Mapped[int] = mapped_column(default=3)


class StationTicket(Model):
    """The ticket a paid order was given at one station (lab draw, pharmacy, imaging).

    One row per order and station, so a payment reported twice issues nothing more; orders of
    one visit paid while the visit's ticket there still waits share that ticket.
    """

    __tablename__ = "station_ticket"
    __table_args__ = (sa.UniqueConstraint("order_id", "station"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    # Billing's order (a kernel table; queueing reads it only through order_paid's arguments).
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"))
    station: Mapped[ServicePointKind] = enum_column(ServicePointKind)
    visit_key: Mapped[str] = mapped_column(sa.String(64))
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"), index=True)
    # Set when the order was refunded in full: a ticket all of whose orders are refunded and
    # that still waits is cancelled.
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResultsReturn(Model):
    """The clinician asked to see an order's results: its station tickets lead back here."""

    __tablename__ = "results_return"
    __table_args__ = (sa.UniqueConstraint("order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_order.id"))
    return_queue_id: Mapped[int] = mapped_column(sa.ForeignKey("service_queue.id"))
    requested_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SurveyVia(enum.StrEnum):
    LINK = "link"  # the link in the message sent after the visit
    KIOSK = "kiosk"


class SatisfactionSurvey(Model):
    """The short survey offered once per patient and service day, after a consultation ends.

    The token is the link's permission; the answers are given once (answered_at).
    """

    __tablename__ = "queue_survey"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "patient_id", "service_date"),
        *(
            sa.CheckConstraint(f"{q} IS NULL OR ({q} >= 1 AND {q} <= 5)", name=f"{q}_in_scale")
            for q in ("wait_score", "staff_score", "overall_score")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    service_date: Mapped[date] = mapped_column(sa.Date)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("ticket.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    token: Mapped[str] = mapped_column(sa.String(43), unique=True)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_via: Mapped[SurveyVia | None] = enum_column(SurveyVia, nullable=True)
    wait_score: Mapped[int | None]
    staff_score: Mapped[int | None]
    overall_score: Mapped[int | None]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
