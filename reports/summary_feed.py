"""Feeding the statistics summary: receivers of other modules' signals, one statement each.

Reports keeps its own summary (report_visit_summary, report_payment_summary) instead of reading
scheduling, queueing and billing tables: a year of statistics stays one indexed scan, and those
modules can change their tables freely. Receivers run in the sender's transaction.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles

from hospital import events
from hospital.billing.references import OrderKind, OrderRef
from hospital.db import UTCDateTime, db
from hospital.organisation.models import Hospital
from hospital.zones import local_date, zone_for
from reports.models import (
    CounterPauseSummary,
    PaymentSummary,
    SatisfactionSummary,
    VisitSummary,
)

MAX_RANGE_DAYS = 366


# ---- feeding the summary ----------------------------------------------------------------------
#
# Receivers run inside the sender's transaction, often while it holds a queue row locked, so each
# one is a single statement: an upsert or a conditional UPDATE, never a SELECT followed by a write.


def _local_date(hospital_id: int, moment: datetime) -> date:
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None, "every row of a hospital's data names an existing hospital"
    return local_date(moment, zone_for(hospital))


def _visit(
    hospital_id: int, *, appointment_id: int | None = None, ticket_id: int | None = None
) -> VisitSummary | None:
    query = sa.select(VisitSummary).where(VisitSummary.hospital_id == hospital_id)
    if appointment_id is not None:
        query = query.where(VisitSummary.appointment_id == appointment_id)
    elif ticket_id is not None:
        query = query.where(VisitSummary.ticket_id == ticket_id)
    else:
        return None
    return db.session.scalar(query)


class _SecondsBetween(sa.sql.functions.FunctionElement[int]):
    """Whole seconds from the second argument to the first, never negative; NULL if either is."""

    type = sa.Integer()
    name = "seconds_between"
    inherit_cache = True


@compiles(_SecondsBetween, "postgresql")
def _seconds_between_postgresql(element: _SecondsBetween, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    whole = f"FLOOR(EXTRACT(EPOCH FROM ({later} - {earlier})))"
    return f"CAST(CASE WHEN {whole} < 0 THEN 0 ELSE {whole} END AS INTEGER)"


@compiles(_SecondsBetween, "sqlite")
def _seconds_between_sqlite(element: _SecondsBetween, compiler: Any, **kw: Any) -> str:
    # Times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff'. SQLite's date functions keep only
    # milliseconds (and round), so whole seconds and microseconds are taken apart exactly.
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)

    def micros(t: str) -> str:
        return (
            f"(CAST(strftime('%s', substr({t}, 1, 19)) AS INTEGER) * 1000000"
            f" + CAST(substr({t}, 21, 6) AS INTEGER))"
        )

    diff = f"({micros(later)} - {micros(earlier)})"
    return f"(CASE WHEN {diff} < 0 THEN 0 ELSE {diff} / 1000000 END)"


def _at(moment: datetime) -> Any:
    return sa.literal(moment, UTCDateTime())


def upsert_insert() -> Any:
    """The dialect's INSERT with ON CONFLICT (both PostgreSQL and SQLite have it)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def _forget_cached_visit(visit_id: int | None) -> None:
    """A summary row written by SQL: make the session reload it if it holds it."""
    if visit_id is None:
        return
    obj = db.session.identity_map.get(db.session.identity_key(VisitSummary, visit_id))
    if obj is not None:
        db.session.expire(obj)


def _forget_cached_visits() -> None:
    """Make the session reload any summary row it holds (a folded statement writes later)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, VisitSummary):
            db.session.expire(obj)


# The summary's columns with a Python-side default (the flags), as an INSERT fills them.
_VISIT_DEFAULTS: dict[str, Any] = {
    column.name: column.default.arg  # type: ignore[attr-defined]  # scalar defaults carry it
    for column in VisitSummary.__table__.c
    if column.default is not None and column.default.is_scalar
}


@functools.cache
def _visit_upsert_sql(key: str, inserted: tuple[str, ...], changed: tuple[str, ...]) -> Any:
    """The visit row's INSERT … ON CONFLICT (hospital, key) DO UPDATE … RETURNING id, as text.

    SQLAlchemy's dialect INSERTs with ON CONFLICT have no cache key, so they are compiled anew
    on every execution (and so is any statement they are folded into: a walk-in's took longer to
    compile than to run). The same clause as typed text is compiled once per shape; PostgreSQL
    and SQLite spell it alike.
    """
    table = VisitSummary.__table__
    sql = (
        f"INSERT INTO {table.name} ({', '.join(inserted)}) "
        f"VALUES ({', '.join(':v_' + name for name in inserted)}) "
        f"ON CONFLICT (hospital_id, {key}) DO UPDATE SET "
        f"{', '.join(f'{name} = :c_{name}' for name in changed)} RETURNING id"
    )
    binds = [sa.bindparam(f"v_{name}", type_=table.c[name].type) for name in inserted] + [
        sa.bindparam(f"c_{name}", type_=table.c[name].type) for name in changed
    ]
    return sa.text(sql).bindparams(*binds).columns(VisitSummary.id)


def _upsert_visit(
    key: str, values: dict[str, Any], changes: dict[str, Any], *, fold: list[Any] | None = None
) -> None:
    """Insert the visit's row, or apply `changes` to the row with the same (hospital, key)."""
    values = {**_VISIT_DEFAULTS, **values}  # what an ORM or Core INSERT would fill in
    shape = _visit_upsert_sql(key, tuple(values), tuple(changes))
    params = {
        **{f"v_{name}": value for name, value in values.items()},
        **{f"c_{name}": value for name, value in changes.items()},
    }
    if fold is not None:  # the sender runs it in its own statement (hospital.events, "Folding")
        fold.append((shape, params))
        _forget_cached_visits()
        return
    _forget_cached_visit(db.session.execute(shape, params).scalar())


def _update_visit(*where: Any, **changes: Any) -> int | None:
    """Change the visit's row in one statement; its id, or None when there is no such row."""
    visit_id = db.session.execute(_visit_update(*where, **changes)).scalar()
    _forget_cached_visit(visit_id)
    return visit_id


def _visit_update(*where: Any, **changes: Any) -> Any:
    return (
        sa.update(VisitSummary)
        .where(*where)
        .values(**changes)
        .returning(VisitSummary.id)
        .execution_options(synchronize_session=False)
    )


# The two updates that run under a queue's lock (folded into the call and the completion), built
# once with parameters: a statement built per call has its whole cache key walked again, and so
# has the sender's statement it is folded into (hospital.events, "Folding").
_SF_NOW = sa.bindparam("sf_now", type_=UTCDateTime())
_FIRST_CALLED = _visit_update(
    VisitSummary.hospital_id == sa.bindparam("sf_hospital_id", type_=sa.Integer()),
    VisitSummary.ticket_id == sa.bindparam("sf_ticket_id", type_=sa.Integer()),
    VisitSummary.called_at.is_(None),
    called_at=_SF_NOW,
    wait_seconds=_SecondsBetween(_SF_NOW, VisitSummary.checked_in_at),
    counter_id=sa.bindparam("sf_counter_id", type_=sa.Integer()),
    counter_code=sa.bindparam("sf_counter_code", type_=VisitSummary.counter_code.type),
    counter_point_id=sa.bindparam("sf_counter_point_id", type_=sa.Integer()),
    staff_account_id=sa.bindparam("sf_account_id", type_=sa.Integer()),
)
# SET expressions read the row as it was: started_at and called_at are not changed here.
_COMPLETED = _visit_update(
    VisitSummary.hospital_id == sa.bindparam("sf_hospital_id", type_=sa.Integer()),
    VisitSummary.ticket_id == sa.bindparam("sf_ticket_id", type_=sa.Integer()),
    completed_at=_SF_NOW,
    service_seconds=_SecondsBetween(
        _SF_NOW, sa.func.coalesce(VisitSummary.started_at, VisitSummary.called_at)
    ),
)


def _run_or_fold(statement: Any, params: dict[str, Any], fold: list[Any] | None) -> None:
    """Run one of the prebuilt updates, or hand it with its parameters to the sender."""
    if fold is not None:
        fold.append((statement, params))
        _forget_cached_visits()
        return
    _forget_cached_visit(db.session.execute(statement, params).scalar())


def on_appointment_booked(
    _sender: Any,
    *,
    appointment_id: int,
    hospital_id: int,
    department_id: int | None,
    clinician_id: int | None,
    starts_at: datetime,
    online: bool,
    now: datetime,
    **_kw: Any,
) -> None:
    changes = {
        "service_date": _local_date(hospital_id, starts_at),
        "department_id": department_id,
        "clinician_id": clinician_id,
        "booked": True,
        "booked_online": bool(online),
        "cancelled": False,
    }
    _upsert_visit(
        "appointment_id",
        {"hospital_id": hospital_id, "appointment_id": appointment_id, **changes},
        changes,
    )


def on_appointment_cancelled(
    _sender: Any, *, appointment_id: int, hospital_id: int, reason: str = "", **_kw: Any
) -> None:
    # An expired hold was never booked, so it is no cancellation.
    if reason != "expired":
        _update_visit(
            VisitSummary.hospital_id == hospital_id,
            VisitSummary.appointment_id == appointment_id,
            cancelled=True,
        )


def on_visit_checked_in(
    _sender: Any,
    *,
    hospital_id: int,
    ticket_id: int,
    now: datetime,
    appointment_id: int | None = None,
    department_id: int | None = None,
    clinician_id: int | None = None,
    service_point_id: int | None = None,
    fold: list[Any] | None = None,
    **_kw: Any,
) -> None:
    arrival: dict[str, Any] = {
        "ticket_id": ticket_id,
        "checked_in_at": now,
        "no_show": False,
        "service_point_id": service_point_id,
    }
    # A booked visit has its row already (from the booking): one UPDATE finds and changes it.
    if appointment_id and _update_visit(
        VisitSummary.hospital_id == hospital_id,
        VisitSummary.appointment_id == appointment_id,
        **arrival,
    ):
        return
    # A walk-in (or a visit booked before statistics were kept): a new row, or the ticket's row.
    _upsert_visit(
        "ticket_id",
        {
            "hospital_id": hospital_id,
            "appointment_id": appointment_id,
            "service_date": _local_date(hospital_id, now),
            "department_id": department_id,
            "clinician_id": clinician_id,
            **arrival,
        },
        {"checked_in_at": now, "no_show": False, "service_point_id": service_point_id},
        # A booked visit's UPDATE above decides whether this runs, so only a walk-in folds.
        fold=fold if not appointment_id else None,
    )


def on_appointment_no_show(
    _sender: Any, *, appointment_id: int, hospital_id: int, **_kw: Any
) -> None:
    _update_visit(
        VisitSummary.hospital_id == hospital_id,
        VisitSummary.appointment_id == appointment_id,
        no_show=True,
    )


def on_ticket_first_called(
    _sender: Any,
    *,
    ticket_id: int,
    hospital_id: int,
    now: datetime,
    counter_id: int | None = None,
    counter_code: str | None = None,
    counter_point_id: int | None = None,
    account_id: int | None = None,
    fold: list[Any] | None = None,
    **_kw: Any,
) -> None:
    _run_or_fold(
        _FIRST_CALLED,
        {
            "sf_hospital_id": hospital_id,
            "sf_ticket_id": ticket_id,
            "sf_now": now,
            "sf_counter_id": counter_id,
            "sf_counter_code": counter_code,
            "sf_counter_point_id": counter_point_id,
            "sf_account_id": account_id,
        },
        fold,
    )


def on_ticket_serving_started(
    _sender: Any, *, ticket_id: int, hospital_id: int, now: datetime, **_kw: Any
) -> None:
    _update_visit(
        VisitSummary.hospital_id == hospital_id,
        VisitSummary.ticket_id == ticket_id,
        VisitSummary.started_at.is_(None),
        started_at=now,
    )


def on_ticket_completed(
    _sender: Any,
    *,
    ticket_id: int,
    hospital_id: int,
    now: datetime,
    fold: list[Any] | None = None,
    **_kw: Any,
) -> None:
    _run_or_fold(
        _COMPLETED, {"sf_hospital_id": hospital_id, "sf_ticket_id": ticket_id, "sf_now": now}, fold
    )


def on_payment_received(
    _sender: Any,
    *,
    order_id: int,
    hospital_id: int,
    amount_fen: int,
    online: bool,
    reference: str = "",
    now: datetime,
    **_kw: Any,
) -> None:
    department_id = clinician_id = None
    ref = OrderRef.read(reference)
    if ref is not None and ref.kind is OrderKind.APPOINTMENT:
        visit = _visit(hospital_id, appointment_id=ref.id)
        if visit is not None:
            department_id, clinician_id = visit.department_id, visit.clinician_id
    # A provider notification processed twice counts once.
    db.session.execute(
        upsert_insert()(PaymentSummary)
        .values(
            hospital_id=hospital_id,
            order_id=order_id,
            service_date=_local_date(hospital_id, now),
            department_id=department_id,
            clinician_id=clinician_id,
            amount_fen=int(amount_fen),
            online=bool(online),
        )
        .on_conflict_do_nothing(index_elements=["hospital_id", "order_id"])
    )


def on_refund_issued(
    _sender: Any, *, order_id: int, hospital_id: int, amount_fen: int, **_kw: Any
) -> None:
    refunded = PaymentSummary.refunded_fen + int(amount_fen)
    db.session.execute(
        sa.update(PaymentSummary)
        .where(PaymentSummary.hospital_id == hospital_id, PaymentSummary.order_id == order_id)
        .values(
            refunded_fen=sa.case(
                (refunded > PaymentSummary.amount_fen, PaymentSummary.amount_fen), else_=refunded
            )
        )
        .execution_options(synchronize_session="fetch")
    )


def on_counter_pause_changed(
    _sender: Any,
    *,
    hospital_id: int,
    counter_id: int,
    counter_code: str,
    counter_point_id: int,
    account_id: int | None,
    paused: bool,
    now: datetime,
    **_kw: Any,
) -> None:
    if paused:
        db.session.execute(
            sa.insert(CounterPauseSummary).values(
                hospital_id=hospital_id,
                counter_id=counter_id,
                counter_code=counter_code,
                counter_point_id=counter_point_id,
                staff_account_id=account_id,
                service_date=_local_date(hospital_id, now),
                paused_at=now,
            )
        )
        return
    db.session.execute(
        sa.update(CounterPauseSummary)
        .where(
            CounterPauseSummary.hospital_id == hospital_id,
            CounterPauseSummary.counter_id == counter_id,
            CounterPauseSummary.resumed_at.is_(None),
        )
        .values(
            resumed_at=now,
            seconds=_SecondsBetween(_at(now), CounterPauseSummary.paused_at),
        )
        .execution_options(synchronize_session=False)
    )


def on_survey_answered(
    _sender: Any,
    *,
    survey_id: int,
    hospital_id: int,
    department_id: int | None,
    service_date: date,
    wait_score: int,
    staff_score: int,
    overall_score: int,
    comment: str,
    via: str,
    now: datetime,
    **_kw: Any,
) -> None:
    db.session.execute(
        upsert_insert()(SatisfactionSummary)
        .values(
            hospital_id=hospital_id,
            survey_id=survey_id,
            department_id=department_id,
            service_date=service_date,
            wait_score=int(wait_score),
            staff_score=int(staff_score),
            overall_score=int(overall_score),
            comment=str(comment or ""),
            via=str(via)[:10],
            answered_at=now,
        )
        .on_conflict_do_nothing(index_elements=["hospital_id", "survey_id"])
    )


# Connected by reports.wiring.connect, which create_app calls.
RECEIVERS = (
    (events.appointment_booked, on_appointment_booked),
    (events.appointment_cancelled, on_appointment_cancelled),
    (events.visit_checked_in, on_visit_checked_in),
    (events.appointment_no_show, on_appointment_no_show),
    (events.ticket_first_called, on_ticket_first_called),
    (events.ticket_serving_started, on_ticket_serving_started),
    (events.ticket_completed, on_ticket_completed),
    (events.payment_received, on_payment_received),
    (events.refund_issued, on_refund_issued),
    (events.counter_pause_changed, on_counter_pause_changed),
    (events.survey_answered, on_survey_answered),
)
