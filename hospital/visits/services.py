"""Visits: started by a booking, a walk-in ticket or a same-day number; found by their code.

Every package may import this module (it is part of the kernel). Operations take `now` and the
acting account or device as keyword arguments and only flush.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.organisation.models import Hospital
from hospital.visits.codes import new_code, normalize, well_formed
from hospital.visits.models import Visit
from hospital.zones import local_date, zone_for

__all__ = ["Visit", "resolve_code", "visit_for", "visits_of_patients_on"]


def hospital_day(hospital_id: int, moment: datetime) -> date:
    """The hospital's calendar day at an instant."""
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None, "every row of a hospital's data names an existing hospital"
    return local_date(moment, zone_for(hospital))


def _insert() -> Any:
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def visit_of(hospital_id: int, patient_id: int, service_date: date) -> Visit | None:
    """The patient's visit on that day, if one started."""
    return db.session.scalar(
        sa.select(Visit).where(
            Visit.hospital_id == hospital_id,
            Visit.patient_id == patient_id,
            Visit.service_date == service_date,
        )
    )


def visit_for(
    *,
    hospital_id: int,
    patient_id: int,
    service_date: date,
    now: datetime,
    department_id: int | None = None,
) -> Visit:
    """The patient's visit that day, started now if it has not been (one, under any concurrency).

    One INSERT … ON CONFLICT DO NOTHING on the (hospital, patient, day) key: a concurrent
    starter waits on the key's index entry and then finds the row the first one committed.
    """
    db.session.execute(
        _insert()(Visit)
        .values(
            hospital_id=hospital_id,
            patient_id=patient_id,
            service_date=service_date,
            code=new_code(),
            department_id=department_id,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["hospital_id", "patient_id", "service_date"])
    )
    visit = visit_of(hospital_id, patient_id, service_date)
    assert visit is not None, "inserted or found by the statement above"
    if department_id is not None and visit.department_id is None:
        visit.department_id = department_id
        db.session.flush()
    return visit


def visits_of_patients_on(
    hospital_id: int, patient_ids: Sequence[int], service_date: date
) -> list[Visit]:
    """The visits of these patients on that day, by patient id."""
    if not patient_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Visit)
            .where(
                Visit.hospital_id == hospital_id,
                Visit.patient_id.in_(list(patient_ids)),
                Visit.service_date == service_date,
            )
            .order_by(Visit.patient_id)
        )
    )


def visits_of_patients_since(
    hospital_id: int, patient_ids: Sequence[int], since: date
) -> list[Visit]:
    """The visits of these patients from that day on, the soonest first."""
    if not patient_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Visit)
            .where(
                Visit.hospital_id == hospital_id,
                Visit.patient_id.in_(list(patient_ids)),
                Visit.service_date >= since,
            )
            .order_by(Visit.service_date, Visit.id)
        )
    )


def visit_by_code(code: str) -> Visit | None:
    """The visit a code names, in any hospital (callers check the hospital)."""
    text = normalize(code)
    if not well_formed(text):
        return None
    return db.session.scalar(sa.select(Visit).where(Visit.code == text))


def refuse_at_station(
    *,
    station: str,
    reason: str,
    hospital_id: int,
    actor: Any = None,
    device: Any = None,
    visit: Visit | None = None,
) -> None:
    """Audit a station's refusal of a visit code (kept even when the request rolls back)."""
    record(
        action="visit.code_refused",
        outcome=Outcome.DENIED,
        actor=actor,
        device=device,
        hospital_id=hospital_id,
        object_type="visit",
        object_id=str(visit.id) if visit is not None else "",
        patient_id=visit.patient_id
        if visit is not None and visit.hospital_id == hospital_id
        else None,
        detail={"station": station, "reason": reason},
    )


def resolve_code(
    code: str,
    *,
    hospital_id: int,
    station: str,
    now: datetime,
    actor: Any = None,
    device: Any = None,
    today_only: bool = True,
) -> Visit:
    """The visit a station scanned, if it is this hospital's (and today's); refusals audited."""
    visit = visit_by_code(code)
    if visit is None:
        refuse_at_station(
            station=station, reason="unknown", hospital_id=hospital_id, actor=actor, device=device
        )
        raise NotFound(
            _l("This visit code is not known here. Scan the code on the patient's visit page."),
            code=ErrorCode.VISIT_NOT_FOUND,
        )
    if visit.hospital_id != hospital_id:
        refuse_at_station(
            station=station,
            reason="other_hospital",
            hospital_id=hospital_id,
            actor=actor,
            device=device,
            visit=visit,
        )
        raise InvalidInput(
            _l("This visit is at another hospital. Please go to that hospital."),
            code=ErrorCode.OTHER_HOSPITAL_CODE,
        )
    if today_only and visit.service_date != hospital_day(hospital_id, now):
        refuse_at_station(
            station=station,
            reason="other_day",
            hospital_id=hospital_id,
            actor=actor,
            device=device,
            visit=visit,
        )
        raise Conflict(
            _l(
                "This visit is on %(day)s, not today. Please come back on that day.",
                day=visit.service_date.isoformat(),
            ),
            code=ErrorCode.VISIT_OTHER_DAY,
        )
    return visit


# ---- queues avoided: set from the visit's own events (one UPDATE each) -----------------------


def note_stop_avoided(
    *,
    hospital_id: int,
    patient_id: int,
    service_date: date,
    now: datetime,
    stop: str,
    visit: Visit | None = None,
) -> None:
    """Count one physical stop the visit replaced: a window, the cashier, a hall, a number.

    A caller that has just started or found the day's visit passes it (two round trips fewer
    on a kiosk check-in)."""
    if visit is None:
        visit = visit_for(
            hospital_id=hospital_id, patient_id=patient_id, service_date=service_date, now=now
        )
    changes: dict[str, Any]
    if stop == "station_number":
        changes = {"station_numbers": Visit.station_numbers + 1}
    else:
        changes = {STOPS[stop]: True}
    db.session.execute(
        sa.update(Visit)
        .where(Visit.id == visit.id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(visit)


STOPS = {
    "registration": "registration_online",
    "cashier": "paid_online",
    "waiting_hall": "virtual_queue",
    "report_window": "report_online",
}


def latest_visit_until(hospital_id: int, patient_id: int, day: date) -> Visit | None:
    """The patient's most recent visit on or before that day."""
    return db.session.scalar(
        sa.select(Visit)
        .where(
            Visit.hospital_id == hospital_id,
            Visit.patient_id == patient_id,
            Visit.service_date <= day,
        )
        .order_by(Visit.service_date.desc())
        .limit(1)
    )


def visit_at_staff_station(staff: Any, code: str, *, station: str, now: datetime) -> Visit:
    """The visit a staff station scanned (this hospital's, today's), audited as a staff read."""
    from hospital.audit.service import record_staff_read

    visit = resolve_code(code, hospital_id=staff.hospital_id, station=station, now=now, actor=staff)
    record_staff_read(
        actor=staff,
        action=f"visit.{station}.read",
        object_type="visit",
        reads=[(visit.id, visit.patient_id)],
    )
    return visit


def refuse_visit_here(staff: Any, visit: Visit, *, station: str, reason: str) -> NotFound:
    """Audit and return the refusal of a visit with no business at this station."""
    refuse_at_station(
        station=station, reason=reason, hospital_id=staff.hospital_id, actor=staff, visit=visit
    )
    return NotFound(
        _l("This visit has nothing waiting here. Check the patient's next step on their phone."),
        code=ErrorCode.VISIT_NOT_HERE,
    )


@dataclass(frozen=True)
class StopsAvoided:
    """Physical stops the visits of one day (and clinic) replaced, counted from their events."""

    service_date: date
    department_id: int | None
    visits: int
    registration: int
    cashier: int
    waiting_hall: int
    report_window: int
    station_numbers: int

    @property
    def total(self) -> int:
        return (
            self.registration
            + self.cashier
            + self.waiting_hall
            + self.report_window
            + self.station_numbers
        )


def stops_avoided(hospital_id: int, start: date, end: date) -> list[StopsAvoided]:
    """Per day and department of [start, end]: visits and the physical stops they replaced."""

    def count(flag: Any) -> Any:
        return sa.func.sum(sa.case((flag, 1), else_=0))

    rows = db.session.execute(
        sa.select(
            Visit.service_date,
            Visit.department_id,
            sa.func.count(Visit.id),
            count(Visit.registration_online),
            count(Visit.paid_online),
            count(Visit.virtual_queue),
            count(Visit.report_online),
            sa.func.sum(Visit.station_numbers),
        )
        .where(
            Visit.hospital_id == hospital_id,
            Visit.service_date >= start,
            Visit.service_date <= end,
        )
        .group_by(Visit.service_date, Visit.department_id)
        .order_by(Visit.service_date, Visit.department_id)
    ).all()
    return [
        StopsAvoided(
            d, dept, int(n), int(r or 0), int(c or 0), int(w or 0), int(p or 0), int(s or 0)
        )
        for d, dept, n, r, c, w, p, s in rows
    ]
