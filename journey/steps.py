"""A visit's timeline and its one next step, from facts gathered elsewhere. Pure: no Flask, no database."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Place:
    """Where to go: a room (service point) with its building, floor and directions."""

    name_zh: str
    name_en: str
    building: str = ""
    floor: str = ""
    room: str = ""
    directions_zh: str = ""
    directions_en: str = ""


@dataclass(frozen=True)
class AppointmentFact:
    id: int
    state: str  # scheduling's AppointmentState value
    starts_at: datetime
    department_zh: str
    department_en: str
    clinician_zh: str
    clinician_en: str
    place: Place | None
    booked_at: datetime | None
    fee_fen: int
    paid_at: datetime | None  # when its registration fee was paid (None: free or unpaid)
    pay_order_id: int | None  # its registration order while that awaits payment
    checkin_opens_at: datetime | None = None


@dataclass(frozen=True)
class TicketFact:
    code: str
    token: str
    status: str  # queueing's TicketStatus value
    kind: str  # "booked" | "walk_in" | "transfer"
    station: str  # the service point's kind: consultation_room, lab_draw, pharmacy, imaging, …
    place: Place
    issued_at: datetime
    called_at: datetime | None = None
    completed_at: datetime | None = None
    ahead: int | None = None
    eta_low: int | None = None
    eta_high: int | None = None
    counter: str | None = None


@dataclass(frozen=True)
class OrderLine:
    name_zh: str
    name_en: str
    category: str
    amount_fen: int


@dataclass(frozen=True)
class OrderFact:
    id: int
    purpose: str  # "registration" | "visit"
    status: str  # billing's OrderStatus value
    amount_fen: int
    created_at: datetime
    paid_at: datetime | None
    lines: tuple[OrderLine, ...] = ()


@dataclass(frozen=True)
class ReportFact:
    public_id: str
    title: str
    ready: bool
    released_at: datetime | None
    received_at: datetime


@dataclass(frozen=True)
class ConsultFact:
    """An online follow-up question asked or answered that day."""

    id: int
    asked_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class VisitFacts:
    appointments: tuple[AppointmentFact, ...] = ()
    tickets: tuple[TicketFact, ...] = ()
    orders: tuple[OrderFact, ...] = ()
    reports: tuple[ReportFact, ...] = ()
    consultations: tuple[ConsultFact, ...] = ()


class StepKind(enum.StrEnum):
    GO_NOW = "go_now"  # a ticket is called: go to the room now
    BEING_SEEN = "being_seen"
    PAY_REGISTRATION = "pay_registration"  # a held appointment: pay to book it
    PAY_ORDERS = "pay_orders"  # the doctor's orders await payment
    WAIT = "wait"  # in a virtual queue: number, ahead, ETA, where
    CHECK_IN = "check_in"  # booked, not checked in: come and check in
    REPORT_PENDING = "report_pending"
    READ_REPORT = "read_report"
    DONE = "done"
    NOTHING = "nothing"  # the visit has nothing in it (any more)


@dataclass(frozen=True)
class NextStep:
    kind: StepKind
    place: Place | None = None
    ticket_code: str | None = None
    ticket_token: str | None = None
    ahead: int | None = None
    eta_low: int | None = None
    eta_high: int | None = None
    amount_fen: int | None = None
    order_ids: tuple[int, ...] = ()
    appointment_id: int | None = None
    at: datetime | None = None
    report_id: str | None = None


class EntryKind(enum.StrEnum):
    BOOKED = "booked"
    PAID = "paid"
    CHECKED_IN = "checked_in"
    CALLED = "called"
    SEEN = "seen"
    ORDERED = "ordered"
    ORDER_PAID = "order_paid"
    STATION = "station"
    REPORT_PENDING = "report_pending"
    REPORT_READY = "report_ready"
    CONSULT_ASKED = "consult_asked"
    CONSULT_ANSWERED = "consult_answered"


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: what happened (or is awaited), when, with its particulars."""

    kind: EntryKind
    at: datetime | None
    done: bool
    place: Place | None = None
    ticket_code: str | None = None
    ahead: int | None = None
    eta_low: int | None = None
    eta_high: int | None = None
    amount_fen: int | None = None
    lines: tuple[OrderLine, ...] = ()
    title: str = ""
    station: str = ""
    extra: dict[str, str] = field(default_factory=dict)


STATIONS = frozenset({"lab_draw", "pharmacy", "imaging"})
OPEN_TICKET = frozenset({"waiting", "called", "serving"})
PAID = frozenset({"paid", "partially_refunded"})


def next_step(facts: VisitFacts) -> NextStep:
    """The one thing the patient should do now, most urgent first."""
    for ticket in facts.tickets:
        if ticket.status == "called":
            return NextStep(
                StepKind.GO_NOW,
                place=ticket.place,
                ticket_code=ticket.code,
                ticket_token=ticket.token,
            )
    for ticket in facts.tickets:
        if ticket.status == "serving":
            return NextStep(StepKind.BEING_SEEN, place=ticket.place, ticket_code=ticket.code)
    held = [a for a in facts.appointments if a.state == "held" and a.pay_order_id is not None]
    if held:
        first = held[0]
        return NextStep(
            StepKind.PAY_REGISTRATION,
            amount_fen=first.fee_fen,
            order_ids=(first.pay_order_id,) if first.pay_order_id else (),
            appointment_id=first.id,
            at=first.starts_at,
            place=first.place,
        )
    unpaid = [o for o in facts.orders if o.purpose == "visit" and o.status == "pending"]
    if unpaid:
        return NextStep(
            StepKind.PAY_ORDERS,
            amount_fen=sum(o.amount_fen for o in unpaid),
            order_ids=tuple(o.id for o in unpaid),
        )
    waiting = [t for t in facts.tickets if t.status == "waiting"]
    if waiting:
        # The queue the patient is nearest the front of goes first.
        ticket = min(waiting, key=lambda t: t.ahead if t.ahead is not None else 10**6)
        return NextStep(
            StepKind.WAIT,
            place=ticket.place,
            ticket_code=ticket.code,
            ticket_token=ticket.token,
            ahead=ticket.ahead,
            eta_low=ticket.eta_low,
            eta_high=ticket.eta_high,
        )
    to_check_in = [a for a in facts.appointments if a.state == "booked"]
    if to_check_in:
        first = to_check_in[0]
        return NextStep(
            StepKind.CHECK_IN,
            place=first.place,
            appointment_id=first.id,
            at=first.starts_at,
        )
    pending = [r for r in facts.reports if not r.ready]
    if pending:
        return NextStep(StepKind.REPORT_PENDING, report_id=pending[0].public_id)
    ready = [r for r in facts.reports if r.ready]
    if ready:
        return NextStep(StepKind.READ_REPORT, report_id=ready[-1].public_id)
    seen = any(t.status == "done" for t in facts.tickets) or any(
        a.state == "completed" for a in facts.appointments
    )
    if seen:
        return NextStep(StepKind.DONE)
    return NextStep(StepKind.NOTHING)


def timeline(facts: VisitFacts) -> list[Entry]:
    """The visit so far, in order: booked → paid → checked in → called → seen → orders → stations → reports."""
    entries: list[Entry] = []
    for a in facts.appointments:
        if a.state in ("cancelled", "expired"):
            continue
        entries.append(Entry(EntryKind.BOOKED, a.booked_at, a.booked_at is not None, place=a.place))
        if a.fee_fen > 0:
            entries.append(
                Entry(EntryKind.PAID, a.paid_at, a.paid_at is not None, amount_fen=a.fee_fen)
            )
    consult = [t for t in facts.tickets if t.station not in STATIONS]
    stations = [t for t in facts.tickets if t.station in STATIONS]
    for t in consult:
        entries.append(
            Entry(
                EntryKind.CHECKED_IN,
                t.issued_at,
                True,
                place=t.place,
                ticket_code=t.code,
                ahead=t.ahead if t.status == "waiting" else None,
                eta_low=t.eta_low if t.status == "waiting" else None,
                eta_high=t.eta_high if t.status == "waiting" else None,
            )
        )
        if t.called_at is not None or t.status in ("called", "serving", "done"):
            entries.append(
                Entry(EntryKind.CALLED, t.called_at, True, place=t.place, ticket_code=t.code)
            )
        if t.status == "done":
            entries.append(Entry(EntryKind.SEEN, t.completed_at, True, place=t.place))
    for o in facts.orders:
        if o.purpose != "visit" or o.status in ("cancelled", "expired"):
            continue
        entries.append(
            Entry(EntryKind.ORDERED, o.created_at, True, amount_fen=o.amount_fen, lines=o.lines)
        )
        entries.append(
            Entry(EntryKind.ORDER_PAID, o.paid_at, o.status in PAID, amount_fen=o.amount_fen)
        )
    for t in stations:
        entries.append(
            Entry(
                EntryKind.STATION,
                t.issued_at,
                t.status == "done",
                place=t.place,
                ticket_code=t.code,
                station=t.station,
                ahead=t.ahead if t.status == "waiting" else None,
                eta_low=t.eta_low if t.status == "waiting" else None,
                eta_high=t.eta_high if t.status == "waiting" else None,
            )
        )
    for r in facts.reports:
        entries.append(
            Entry(
                EntryKind.REPORT_READY if r.ready else EntryKind.REPORT_PENDING,
                r.released_at if r.ready else r.received_at,
                r.ready,
                title=r.title,
                extra={"report_id": r.public_id},
            )
        )
    for c in facts.consultations:
        entries.append(
            Entry(EntryKind.CONSULT_ASKED, c.asked_at, True, extra={"consultation": str(c.id)})
        )
        if c.answered_at is not None:
            entries.append(
                Entry(
                    EntryKind.CONSULT_ANSWERED,
                    c.answered_at,
                    True,
                    extra={"consultation": str(c.id)},
                )
            )
    return entries
