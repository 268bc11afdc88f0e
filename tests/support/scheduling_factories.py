"""Build scheduling rows with safe defaults: a clinic session with its slots, booking rules."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hospital.db import db
from hospital.organisation.models import Clinician
from scheduling.models import ClinicSession, FeeClass, SchedulingRules, SessionStatus, Slot
from scheduling.slots import slot_times, to_utc

# A fixed "now" for tests: Tuesday 1 December 2026, 10:00 in Shanghai.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=ZoneInfo("UTC"))


def create_clinic_session(
    clinician: Clinician,
    *,
    local_date: date | None = None,
    start: time = time(8),
    end: time = time(12),
    slot_minutes: int = 15,
    capacity: int = 1,
    fee_class: FeeClass = FeeClass.GENERAL,
    fee_fen: int = 0,
    release_at: datetime | None = None,
    zone: str = "Asia/Shanghai",
    service_point_id: int | None = None,
    **kw: Any,
) -> ClinicSession:
    """A dated session (already released unless release_at says otherwise) with its slots."""
    tz = ZoneInfo(zone)
    local_date = local_date or (NOW.astimezone(tz).date() + timedelta(days=2))
    closes_minutes = kw.get("booking_closes_minutes", 30)
    session = ClinicSession(
        hospital_id=clinician.hospital_id,
        template_id=None,
        department_id=clinician.department_id,
        clinician_id=clinician.id,
        service_point_id=service_point_id,
        local_date=local_date,
        start_time=start,
        end_time=end,
        starts_at=to_utc(local_date, start, tz),
        ends_at=to_utc(local_date, end, tz),
        fee_class=fee_class,
        fee_fen=fee_fen,
        release_at=release_at or (NOW - timedelta(days=1)),
        booking_closes_minutes=kw.pop("booking_closes_minutes", 30),
        checkin_opens_minutes=kw.pop("checkin_opens_minutes", 60),
        checkin_closes_minutes=kw.pop("checkin_closes_minutes", 15),
        status=SessionStatus.OPEN,
        **kw,
    )
    db.session.add(session)
    db.session.flush()
    for times in slot_times(local_date, start, end, slot_minutes, tz):
        db.session.add(
            Slot(
                hospital_id=clinician.hospital_id,
                session_id=session.id,
                starts_at=times.starts_at,
                ends_at=times.ends_at,
                local_date=local_date,
                closes_at=times.starts_at - timedelta(minutes=closes_minutes),
                capacity=capacity,
                booked=0,
                addon_allowance=0,
            )
        )
    db.session.flush()
    return session


def slots_of(session: ClinicSession) -> list[Slot]:
    import sqlalchemy as sa

    return list(
        db.session.scalars(
            sa.select(Slot).where(Slot.session_id == session.id).order_by(Slot.starts_at)
        ).all()
    )


def set_rules(hospital_id: int, **values: Any) -> SchedulingRules:
    from scheduling.models import DEFAULT_RULES

    row = db.session.get(SchedulingRules, hospital_id)
    if row is None:
        row = SchedulingRules(hospital_id=hospital_id, **DEFAULT_RULES)
        db.session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.flush()
    return row
