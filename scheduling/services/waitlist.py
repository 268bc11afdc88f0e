"""Join and leave the waitlist (候补), see one's place in line, and staff's view of demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from hospital import zones
from hospital.accounts.models import Account
from hospital.db import db, execute_dml
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.organisation.models import Clinician, Department
from hospital.patients.access import Permission, patients_acting_for, require_patient_access
from scheduling.models import (
    ACTIVE_WAITLIST_STATES,
    Appointment,
    AppointmentState,
    ClinicSession,
    FeeClass,
    OfferState,
    SessionStatus,
    Slot,
    TimeBand,
    WaitlistEntry,
    WaitlistKind,
    WaitlistOffer,
    WaitlistState,
)
from scheduling.services.attendance import active_suspension
from scheduling.services.rules import DESK_ROLES, _require_roles, hospital_zone

# How far ahead a date-range entry may reach.
MAX_RANGE_DAYS = 31


def max_entries() -> int:
    """Active waitlist entries one patient may hold (setting WAITLIST_MAX_ENTRIES)."""
    return int(current_app.config.get("WAITLIST_MAX_ENTRIES", 3)) if has_app_context() else 3


def _suspended() -> Forbidden:
    return Forbidden(
        _l(
            "Online booking is suspended for this patient after repeated missed appointments. "
            "Please contact the registration desk."
        ),
        code=ErrorCode.PATIENT_SUSPENDED,
    )


def _lock_patient(patient_id: int) -> None:
    """Serialise joins for one patient so the entry limit cannot be raced (PostgreSQL)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.text("SELECT 1 FROM patient WHERE id = :p FOR NO KEY UPDATE"), {"p": patient_id}
        )


def join(
    *,
    actor: Account,
    patient_id: int,
    now: datetime,
    session_id: int | None = None,
    clinician_id: int | None = None,
    department_id: int | None = None,
    first_date: date | None = None,
    last_date: date | None = None,
    band: TimeBand = TimeBand.ANY,
    fee_class: FeeClass | None = None,
) -> WaitlistEntry:
    """Put a patient on the waitlist of a sold-out session, or of a clinician's or department's dates."""
    patient = require_patient_access(
        actor, patient_id, Permission.BOOK, action="scheduling.waitlist"
    )
    hospital_id = actor.hospital_id
    zone = hospital_zone(hospital_id)
    today = zones.local_date(now, zone)
    session: ClinicSession | None = None
    if session_id is not None:
        session = db.session.get(ClinicSession, session_id)
        if session is None or session.hospital_id != hospital_id:
            raise NotFound(_l("No such session."), code=ErrorCode.SESSION_NOT_FOUND)
        if session.status is not SessionStatus.OPEN or session.starts_at <= now:
            raise InvalidInput(
                _l("This session is over or cancelled. Pick another one."),
                code=ErrorCode.SESSION_CANCELLED,
            )
        kind = WaitlistKind.SESSION
        clinician_id = session.clinician_id
        department_id = session.department_id
        first_date = last_date = session.local_date
    elif clinician_id is not None:
        clinician = db.session.get(Clinician, clinician_id)
        if clinician is None or clinician.hospital_id != hospital_id:
            raise NotFound(_l("No such clinician."), code=ErrorCode.UNKNOWN_CLINICIAN)
        kind = WaitlistKind.CLINICIAN
        department_id = clinician.department_id
    elif department_id is not None:
        department = db.session.get(Department, department_id)
        if department is None or department.hospital_id != hospital_id:
            raise NotFound(_l("No such department."), code=ErrorCode.UNKNOWN_DEPARTMENT)
        kind = WaitlistKind.DEPARTMENT
    else:
        raise InvalidInput(
            _l("Say what to wait for: a session, a clinician or a department."),
            code=ErrorCode.WAITLIST_TARGET_REQUIRED,
        )
    if session is None:
        first_date = first_date or today
        last_date = last_date or first_date
        if first_date < today or last_date < first_date:
            raise InvalidInput(
                _l("Pick dates from today on, the first no later than the last."),
                code=ErrorCode.WAITLIST_DATES,
            )
        if (last_date - first_date).days >= MAX_RANGE_DAYS:
            raise InvalidInput(
                _l("A waitlist entry may cover at most %(n)d days.", n=MAX_RANGE_DAYS),
                code=ErrorCode.WAITLIST_DATES,
            )
    assert first_date is not None and last_date is not None and department_id is not None
    if active_suspension(patient.id, now=now) is not None:
        raise _suspended()
    _lock_patient(patient.id)
    active = list(
        db.session.scalars(
            sa.select(WaitlistEntry).where(
                WaitlistEntry.patient_id == patient.id,
                WaitlistEntry.state.in_(ACTIVE_WAITLIST_STATES),
            )
        ).all()
    )
    for entry in active:
        if (entry.kind, entry.session_id, entry.clinician_id, entry.department_id) == (
            kind,
            session_id,
            clinician_id if kind is not WaitlistKind.DEPARTMENT else entry.clinician_id,
            department_id,
        ) and (entry.first_date, entry.last_date, entry.band) == (first_date, last_date, band):
            raise Conflict(
                _l("This patient is already on this waitlist."),
                code=ErrorCode.WAITLIST_ALREADY_JOINED,
            )
    if len(active) >= max_entries():
        raise Conflict(
            _l(
                "This patient is already on %(n)d waitlists, the most allowed. Leave one first.",
                n=len(active),
            ),
            code=ErrorCode.WAITLIST_LIMIT,
        )
    if session is not None:
        _check_session_for_joining(session, patient.id, now=now)
    entry = WaitlistEntry(
        hospital_id=hospital_id,
        patient_id=patient.id,
        account_id=actor.id,
        kind=kind,
        session_id=session_id,
        clinician_id=clinician_id if kind is not WaitlistKind.DEPARTMENT else None,
        department_id=department_id,
        first_date=first_date,
        last_date=last_date,
        band=band,
        fee_class=fee_class,
        state=WaitlistState.WAITING,
        lapses=0,
        joined_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _check_session_for_joining(session: ClinicSession, patient_id: int, *, now: datetime) -> None:
    has_one = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Appointment)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.session_id == session.id,
            sa.or_(
                Appointment.state.in_((AppointmentState.BOOKED, AppointmentState.CHECKED_IN)),
                sa.and_(
                    Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at > now
                ),
            ),
        )
    )
    if has_one:
        raise Conflict(
            _l("This patient already has an appointment in this session."),
            code=ErrorCode.ALREADY_BOOKED_IN_SESSION,
        )
    free = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Slot)
        .where(Slot.session_id == session.id, Slot.booked < Slot.capacity, Slot.closes_at > now)
    )
    if free and now >= session.release_at:
        raise Conflict(
            _l("This session still has free places: book one instead of waiting."),
            code=ErrorCode.WAITLIST_PLACES_FREE,
        )


def _entry_for(entry_id: int, *, actor: Account) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None or entry.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such waitlist entry."), code=ErrorCode.WAITLIST_ENTRY_NOT_FOUND)
    require_patient_access(actor, entry.patient_id, Permission.BOOK, action="scheduling.waitlist")
    return entry


def leave(entry_id: int, *, actor: Account, now: datetime) -> WaitlistEntry:
    """Take a patient off a waitlist; an offer already out stays the patient's to answer."""
    entry = _entry_for(entry_id, actor=actor)
    db.session.execute(
        sa.update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.state.in_(ACTIVE_WAITLIST_STATES))
        .values(state=WaitlistState.LEFT, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(entry)
    return entry


@dataclass(frozen=True)
class EntryView:
    entry: WaitlistEntry
    position: int | None  # place in line among those waiting for the same thing, from 1
    patient_name: str
    target: str  # "Dr Chen" or "Cardiology"
    session_starts_at: datetime | None
    offer: WaitlistOffer | None  # the live offer, if any
    target_en: str = ""  # the same in English (the Chinese name when there is none)


def position(entry: WaitlistEntry) -> int | None:
    """1 + the active entries for the same clinician, session or department that joined earlier."""
    if entry.state not in ACTIVE_WAITLIST_STATES:
        return None
    same = [
        WaitlistEntry.hospital_id == entry.hospital_id,
        WaitlistEntry.state.in_(ACTIVE_WAITLIST_STATES),
        WaitlistEntry.kind == entry.kind,
        WaitlistEntry.first_date <= entry.last_date,
        WaitlistEntry.last_date >= entry.first_date,
        sa.or_(
            WaitlistEntry.joined_at < entry.joined_at,
            sa.and_(WaitlistEntry.joined_at == entry.joined_at, WaitlistEntry.id < entry.id),
        ),
    ]
    if entry.kind is WaitlistKind.SESSION:
        same.append(WaitlistEntry.session_id == entry.session_id)
    elif entry.kind is WaitlistKind.CLINICIAN:
        same.append(WaitlistEntry.clinician_id == entry.clinician_id)
    else:
        same.append(WaitlistEntry.department_id == entry.department_id)
    ahead = db.session.scalar(sa.select(sa.func.count()).select_from(WaitlistEntry).where(*same))
    return int(ahead or 0) + 1


def _target(entry: WaitlistEntry) -> tuple[str, str]:
    """What the entry waits for, in Chinese and in English."""
    named: Clinician | Department | None = None
    if entry.clinician_id is not None:
        named = db.session.get(Clinician, entry.clinician_id)
    if named is None:
        named = db.session.get(Department, entry.department_id)
    if named is None:
        return "", ""
    return named.name_zh, named.name_en or named.name_zh


def entries_for_account(*, actor: Account, now: datetime) -> list[EntryView]:
    """The active and recent waitlist entries of every patient the account books for."""
    patients = {p.id: p for p in patients_acting_for(actor, Permission.BOOK)}
    if not patients:
        return []
    entries = db.session.scalars(
        sa.select(WaitlistEntry)
        .where(
            WaitlistEntry.patient_id.in_(patients),
            sa.or_(
                WaitlistEntry.state.in_(ACTIVE_WAITLIST_STATES),
                WaitlistEntry.ended_at >= now - timedelta(days=7),
            ),
        )
        .order_by(WaitlistEntry.joined_at.desc())
    ).all()
    return [
        view_of(entry, now=now, patient_name=patients[entry.patient_id].name) for entry in entries
    ]


def view_of(entry: WaitlistEntry, *, now: datetime, patient_name: str = "") -> EntryView:
    """An entry with its place in line, what it waits for and its live offer."""
    offer = db.session.scalar(
        sa.select(WaitlistOffer).where(
            WaitlistOffer.entry_id == entry.id,
            WaitlistOffer.state == OfferState.OFFERED,
            WaitlistOffer.notify_at <= now,
        )
    )
    session = db.session.get(ClinicSession, entry.session_id) if entry.session_id else None
    target_zh, target_en = _target(entry)
    return EntryView(
        entry=entry,
        position=position(entry),
        patient_name=patient_name,
        target=target_zh,
        target_en=target_en,
        session_starts_at=session.starts_at if session is not None else None,
        offer=offer,
    )


# ---- demand, for staff ----------------------------------------------------------------------


def _matching_entries(session: ClinicSession) -> sa.ColumnElement[bool]:
    return sa.and_(
        WaitlistEntry.hospital_id == session.hospital_id,
        WaitlistEntry.state.in_(ACTIVE_WAITLIST_STATES),
        WaitlistEntry.first_date <= session.local_date,
        WaitlistEntry.last_date >= session.local_date,
        sa.or_(
            sa.and_(
                WaitlistEntry.kind == WaitlistKind.SESSION, WaitlistEntry.session_id == session.id
            ),
            sa.and_(
                WaitlistEntry.kind == WaitlistKind.CLINICIAN,
                WaitlistEntry.clinician_id == session.clinician_id,
            ),
            sa.and_(
                WaitlistEntry.kind == WaitlistKind.DEPARTMENT,
                WaitlistEntry.department_id == session.department_id,
            ),
        ),
    )


def waiting_for_sessions(sessions: list[ClinicSession]) -> dict[int, int]:
    """How many active entries could take a place in each session (by session id)."""
    counts: dict[int, int] = {}
    for session in sessions:
        counts[session.id] = int(
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(WaitlistEntry)
                .where(_matching_entries(session))
            )
            or 0
        )
    return counts


@dataclass(frozen=True)
class ClinicianDemand:
    clinician_id: int
    name: str
    waiting: int  # entries naming the clinician or one of their sessions
    department_waiting: int  # entries for the clinician's whole department


def demand_by_clinician(*, actor: Account, now: datetime, days: int = 14) -> list[ClinicianDemand]:
    """Active waitlist entries per clinician over the next `days` days, most wanted first."""
    _require_roles(actor.hospital_id, DESK_ROLES, actor=actor)
    today = zones.local_date(now, hospital_zone(actor.hospital_id))
    horizon = today + timedelta(days=days)
    active = sa.and_(
        WaitlistEntry.hospital_id == actor.hospital_id,
        WaitlistEntry.state.in_(ACTIVE_WAITLIST_STATES),
        WaitlistEntry.first_date < horizon,
        WaitlistEntry.last_date >= today,
    )
    by_clinician: dict[int | None, int] = dict(
        db.session.execute(  # type: ignore[arg-type]
            sa.select(WaitlistEntry.clinician_id, sa.func.count())
            .where(active, WaitlistEntry.clinician_id.is_not(None))
            .group_by(WaitlistEntry.clinician_id)
        ).all()
    )
    by_department: dict[int, int] = dict(
        db.session.execute(  # type: ignore[arg-type]
            sa.select(WaitlistEntry.department_id, sa.func.count())
            .where(active, WaitlistEntry.kind == WaitlistKind.DEPARTMENT)
            .group_by(WaitlistEntry.department_id)
        ).all()
    )
    clinicians = db.session.scalars(
        sa.select(Clinician).where(Clinician.hospital_id == actor.hospital_id)
    ).all()
    rows = [
        ClinicianDemand(
            clinician_id=c.id,
            name=c.name_zh,
            waiting=int(by_clinician.get(c.id, 0)),
            department_waiting=int(by_department.get(c.department_id, 0)),
        )
        for c in clinicians
        if by_clinician.get(c.id) or by_department.get(c.department_id)
    ]
    return sorted(rows, key=lambda r: (-r.waiting, -r.department_waiting, r.name))


def end_past_entries(*, now: datetime) -> int:
    """End the entries whose dates have passed (the sweep; running it twice ends nothing more)."""
    ended = 0
    hospital_ids = db.session.scalars(
        sa.select(WaitlistEntry.hospital_id)
        .where(WaitlistEntry.state == WaitlistState.WAITING)
        .distinct()
    ).all()
    for hospital_id in hospital_ids:
        today = zones.local_date(now, hospital_zone(hospital_id))
        ended += execute_dml(
            sa.update(WaitlistEntry)
            .where(
                WaitlistEntry.hospital_id == hospital_id,
                WaitlistEntry.state == WaitlistState.WAITING,
                WaitlistEntry.last_date < today,
            )
            .values(state=WaitlistState.ENDED, ended_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    return ended
