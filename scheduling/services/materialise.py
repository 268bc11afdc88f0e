"""Materialise the sessions and slots of the booking horizon from the weekly templates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult

from hospital.db import db, execute_dml
from hospital.organisation.models import Hospital
from hospital.zones import local_date, zone_for
from scheduling.models import ClinicSession, ScheduleException, SessionStatus, SessionTemplate, Slot
from scheduling.slots import (
    WeeklySession,
    release_instant,
    session_dates,
    slot_times,
    to_utc,
)


def _weekly(template: SessionTemplate) -> WeeklySession:
    return WeeklySession(
        template.weekday,
        template.start_time,
        template.end_time,
        template.slot_minutes,
        template.valid_from,
        template.valid_until,
    )


def _session_row(
    template: SessionTemplate, day: date, zone: ZoneInfo, *, now: datetime
) -> dict[str, Any]:
    return {
        "hospital_id": template.hospital_id,
        "template_id": template.id,
        "department_id": template.department_id,
        "clinician_id": template.clinician_id,
        "service_point_id": template.service_point_id,
        "local_date": day,
        "start_time": template.start_time,
        "end_time": template.end_time,
        "starts_at": to_utc(day, template.start_time, zone),
        "ends_at": to_utc(day, template.end_time, zone),
        "fee_class": template.fee_class,
        "fee_fen": template.fee_fen,
        "release_at": release_instant(
            day, template.booking_opens_days, template.release_time, zone
        ),
        "booking_closes_minutes": template.booking_closes_minutes,
        "checkin_opens_minutes": template.checkin_opens_minutes,
        "checkin_closes_minutes": template.checkin_closes_minutes,
        "status": SessionStatus.OPEN,
        "cancel_reason": "",
        "created_at": now,
    }


def _insert_ignoring_duplicates(
    table: sa.Table,
    rows: list[dict[str, Any]],
    returning: Sequence[sa.ColumnElement[Any]] | None = None,
) -> CursorResult[Any]:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.values(rows).on_conflict_do_nothing()
    if returning is None:
        return execute_dml(statement)
    return execute_dml(statement.returning(*returning))


def _insert_slots(
    sessions: list[tuple[int, SessionTemplate, date]], hospital_id: int, zone: ZoneInfo
) -> int:
    rows = []
    for session_id, template, day in sessions:
        for times in slot_times(
            day, template.start_time, template.end_time, template.slot_minutes, zone
        ):
            rows.append(
                {
                    "hospital_id": hospital_id,
                    "session_id": session_id,
                    "starts_at": times.starts_at,
                    "ends_at": times.ends_at,
                    "local_date": day,
                    "closes_at": times.starts_at
                    - timedelta(minutes=template.booking_closes_minutes),
                    "capacity": template.capacity,
                    "booked": 0,
                    "addon_allowance": 0,
                }
            )
    inserted = 0
    for chunk in range(0, len(rows), 500):
        result = _insert_ignoring_duplicates(Slot.__table__, rows[chunk : chunk + 500])
        inserted += max(result.rowcount or 0, 0)
    return inserted


def _closed_on(exceptions: list[ScheduleException], template: SessionTemplate, day: date) -> bool:
    for exception in exceptions:
        if not (exception.first_date <= day <= exception.last_date):
            continue
        if exception.clinician_id is not None and exception.clinician_id != template.clinician_id:
            continue
        if (
            exception.department_id is not None
            and exception.department_id != template.department_id
        ):
            continue
        return True
    return False


def materialise_slots(*, now: datetime, hospital_id: int | None = None) -> int:
    """Create the sessions and slots of the booking horizon; idempotent, also across processes.

    Returns the number of sessions created. A session is created once per (template, date)
    by an insert that ignores duplicates; only the run that created a session creates its slots
    (with the same duplicate-ignoring insert), so two runs at once give the same slots.
    """
    query = sa.select(SessionTemplate, Hospital).join(
        Hospital, Hospital.id == SessionTemplate.hospital_id
    )
    query = query.where(SessionTemplate.is_active.is_(True))
    if hospital_id is not None:
        query = query.where(SessionTemplate.hospital_id == hospital_id)
    by_hospital: dict[int, list[SessionTemplate]] = {}
    hospitals: dict[int, Hospital] = {}
    for template, hospital in db.session.execute(query).all():
        by_hospital.setdefault(hospital.id, []).append(template)
        hospitals[hospital.id] = hospital
    created = 0
    for hid, templates in by_hospital.items():
        zone = zone_for(hospitals[hid])
        today = local_date(now, zone)
        horizon = today + timedelta(days=max(t.booking_opens_days for t in templates) + 1)
        exceptions = db.session.scalars(
            sa.select(ScheduleException).where(
                ScheduleException.hospital_id == hid,
                ScheduleException.last_date >= today,
                ScheduleException.first_date <= horizon,
            )
        ).all()
        rows = []
        by_key: dict[tuple[int, date], SessionTemplate] = {}
        for template in templates:
            last = today + timedelta(days=template.booking_opens_days + 1)
            for day in session_dates(_weekly(template), today, last):
                if _closed_on(list(exceptions), template, day):
                    continue
                rows.append(_session_row(template, day, zone, now=now))
                by_key[(template.id, day)] = template
        new_sessions: list[tuple[int, SessionTemplate, date]] = []
        for chunk in range(0, len(rows), 500):
            result = _insert_ignoring_duplicates(
                ClinicSession.__table__,
                rows[chunk : chunk + 500],
                returning=(
                    ClinicSession.__table__.c.id,
                    ClinicSession.__table__.c.template_id,
                    ClinicSession.__table__.c.local_date,
                ),
            )
            for session_id, template_id, day in result.all():
                new_sessions.append((session_id, by_key[(template_id, day)], day))
        _insert_slots(new_sessions, hid, zone)
        created += len(new_sessions)
    return created
