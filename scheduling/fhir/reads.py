"""Read what the FHIR resources are mapped from: the catalogue, open slots, appointments, patients.

Free places come from `search_availability` (the same numbers the booking pages show); this
module only gathers the rows each mapping needs, a page at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app

from hospital.db import db
from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.models import Patient
from hospital.zones import local_date
from scheduling.fhir import resources as fhir
from scheduling.fhir.params import Range
from scheduling.models import (
    Appointment,
    AppointmentState,
    ClinicSession,
    FeeClass,
    SessionStatus,
    SessionTemplate,
    Slot,
)
from scheduling.services.availability import AvailableSlot, search_availability
from scheduling.services.places import effective_state
from scheduling.services.rules import hospital_zone

MAX_DAYS = 92
DEFAULT_DAYS = 14


@dataclass
class Catalogue:
    """A hospital's departments, clinicians and service points, read once per request."""

    hospital: Hospital
    departments: dict[int, Department]
    clinicians: dict[int, Clinician]
    points: dict[int, ServicePoint]
    memo: dict[tuple[str, Any], Any] = field(default_factory=dict)

    def department_by_code(self, code: str) -> Department | None:
        return next((d for d in self.departments.values() if d.code == code), None)

    # The parts every resource of a department or fee class repeats, mapped once per request
    # (the request's language is fixed) and shared between resources: json.dumps reads them
    # as often as they are referenced.

    def specialty(self, department_id: int) -> list[dict[str, Any]]:
        key = ("specialty", department_id)
        if key not in self.memo:
            self.memo[key] = fhir.specialty(self.departments.get(department_id))
        return self.memo[key]  # type: ignore[no-any-return]

    def service_type(self, fee_class: FeeClass) -> list[dict[str, Any]]:
        key = ("service_type", fee_class)
        if key not in self.memo:
            self.memo[key] = fhir.service_type(fee_class)
        return self.memo[key]  # type: ignore[no-any-return]

    def department_actor(self, department_id: int) -> dict[str, Any]:
        key = ("department_actor", department_id)
        if key not in self.memo:
            self.memo[key] = {
                "actor": {"reference": f"HealthcareService/{department_id}"},
                "status": "accepted",
            }
        return self.memo[key]  # type: ignore[no-any-return]


def catalogue(hospital_id: int) -> Catalogue:
    hospital = db.session.get(Hospital, hospital_id)
    assert hospital is not None
    return Catalogue(
        hospital=hospital,
        departments={
            d.id: d
            for d in db.session.scalars(
                sa.select(Department).where(Department.hospital_id == hospital_id)
            )
        },
        clinicians={
            c.id: c
            for c in db.session.scalars(
                sa.select(Clinician).where(Clinician.hospital_id == hospital_id)
            )
        },
        points={
            p.id: p
            for p in db.session.scalars(
                sa.select(ServicePoint).where(ServicePoint.hospital_id == hospital_id)
            )
        },
    )


# ---- slots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotFilter:
    window: Range
    department_id: int | None = None
    clinician_id: int | None = None
    service_point_id: int | None = None
    fee_class: FeeClass | None = None
    schedule: str | None = None
    statuses: frozenset[str] = frozenset()
    slot_id: int | None = None
    only_bookable: bool = False


def local_dates(hospital_id: int, window: Range, *, now: datetime) -> tuple[date, date]:
    """The local days a search window covers: from today at the earliest, at most MAX_DAYS."""
    zone = hospital_zone(hospital_id)
    today = local_date(now, zone)
    first = max(today, local_date(window.lower, zone)) if window.lower else today
    last = (
        local_date(window.upper - timedelta(microseconds=1), zone)
        if window.upper
        else first + timedelta(days=DEFAULT_DAYS - 1)
    )
    return first, min(last, first + timedelta(days=MAX_DAYS - 1))


@dataclass(frozen=True)
class OpenSlot:
    place: AvailableSlot
    service_point_id: int | None
    held: int

    @property
    def schedule_id(self) -> str:
        return fhir.schedule_id(
            self.place.department_id, self.place.clinician_id, self.service_point_id
        )


def slot_status(slot: OpenSlot, *, now: datetime) -> str:
    if slot.place.release_at > now:
        return "busy-unavailable"
    if slot.place.remaining > 0:
        return "free"
    return "busy-tentative" if slot.held else "busy"


def open_slots(hospital_id: int, terms: SlotFilter, *, now: datetime) -> list[OpenSlot]:
    """Slots still open for booking that match the filter, in time order."""
    first, last = local_dates(hospital_id, terms.window, now=now)
    if first > last:
        return []
    places = search_availability(
        hospital_id,
        first_date=first,
        last_date=last,
        now=now,
        department_id=terms.department_id,
        clinician_id=terms.clinician_id,
        fee_class=terms.fee_class,
        only_bookable=terms.only_bookable,
    )
    places = [
        p
        for p in places
        if terms.window.contains(p.starts_at) and (terms.slot_id in (None, p.slot_id))
    ]
    if not places:
        return []
    session_ids = {p.session_id for p in places}
    points = dict(
        db.session.execute(
            sa.select(ClinicSession.id, ClinicSession.service_point_id).where(
                ClinicSession.id.in_(session_ids)
            )
        )
        .tuples()
        .all()
    )
    held = _active_holds({p.slot_id for p in places if p.remaining == 0}, now=now)
    result = []
    for place in places:
        slot = OpenSlot(place, points.get(place.session_id), held.get(place.slot_id, 0))
        if terms.service_point_id is not None and slot.service_point_id != terms.service_point_id:
            continue
        if terms.schedule is not None and slot.schedule_id != terms.schedule:
            continue
        if terms.statuses and slot_status(slot, now=now) not in terms.statuses:
            continue
        result.append(slot)
    return result


def _active_holds(slot_ids: set[int], *, now: datetime) -> dict[int, int]:
    if not slot_ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(Appointment.slot_id, sa.func.count())
            .where(
                Appointment.slot_id.in_(slot_ids),
                Appointment.state == AppointmentState.HELD,
                Appointment.hold_expires_at > now,
            )
            .group_by(Appointment.slot_id)
        )
        .tuples()
        .all()
    )


def slot_resource(
    slot: OpenSlot, cat: Catalogue, *, now: datetime, publish: bool = False
) -> dict[str, Any]:
    place = slot.place
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": str(place.slot_id),
        "schedule": {"reference": f"Schedule/{slot.schedule_id}"},
        "status": slot_status(slot, now=now),
        "start": fhir.instant(place.starts_at),
        "end": fhir.instant(place.ends_at),
        "serviceType": fhir.service_type(place.fee_class),
        "specialty": fhir.specialty(cat.departments.get(place.department_id)),
        # Capacity above one: one Slot per time, its places left in the SMART capacity extension.
        "extension": [{"url": fhir.SLOT_CAPACITY, "valueInteger": place.remaining}],
        "comment": f"{place.remaining}/{place.capacity}",
    }
    if publish:
        base = current_app.config.get("PUBLIC_URL", "").rstrip("/")
        resource["extension"] += [
            {
                "url": fhir.BOOKING_DEEP_LINK,
                "valueUrl": f"{base}/book/sessions/{place.session_id}?slot={place.slot_id}",
            },
            {"url": fhir.BOOKING_PHONE, "valueString": cat.hospital.phone or "-"},
        ]
    return resource


def slot_start(hospital_id: int, slot_id: int) -> datetime | None:
    return db.session.scalar(
        sa.select(Slot.starts_at).where(Slot.id == slot_id, Slot.hospital_id == hospital_id)
    )


# ---- schedules ------------------------------------------------------------------------------


def schedule_keys(hospital_id: int, *, now: datetime) -> list[tuple[int, int | None, int | None]]:
    """(department, clinician, room) of every schedule with sessions from today on or templates."""
    today = local_date(now, hospital_zone(hospital_id))
    rows = db.session.execute(
        sa.select(
            ClinicSession.department_id, ClinicSession.clinician_id, ClinicSession.service_point_id
        )
        .where(ClinicSession.hospital_id == hospital_id, ClinicSession.local_date >= today)
        .union(
            sa.select(
                SessionTemplate.department_id,
                SessionTemplate.clinician_id,
                SessionTemplate.service_point_id,
            ).where(SessionTemplate.hospital_id == hospital_id, SessionTemplate.is_active.is_(True))
        )
    ).all()
    keys = {(d, c, None if c is not None else p) for d, c, p in rows}
    return sorted(keys, key=lambda k: (k[0], k[1] or 0, k[2] or 0))


def schedule_resource(
    key: tuple[int, int | None, int | None], cat: Catalogue, *, now: datetime
) -> dict[str, Any] | None:
    department_id, clinician_id, point_id = key
    department = cat.departments.get(department_id)
    clinician = cat.clinicians.get(clinician_id) if clinician_id is not None else None
    if department is None or (clinician_id is not None and clinician is None):
        return None
    days = db.session.scalar(
        sa.select(sa.func.max(SessionTemplate.booking_opens_days)).where(
            SessionTemplate.hospital_id == cat.hospital.id,
            SessionTemplate.department_id == department_id,
            SessionTemplate.clinician_id == clinician_id
            if clinician_id is not None
            else SessionTemplate.service_point_id == point_id,
        )
    )
    # From the day's start (UTC): a search and a read of the same Schedule agree whatever second
    # each runs in, and the published file changes daily, not at every run.
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    horizon = (start, start + timedelta(days=days or DEFAULT_DAYS))
    return fhir.schedule(department, clinician, point_id, horizon=horizon)


# ---- appointments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentFilter:
    patient_ids: frozenset[int] | None = None  # None: any patient of the hospital
    clinician_id: int | None = None
    window: Range = Range()
    states: tuple[AppointmentState, ...] = ()
    appointment_id: int | None = None


def appointments(
    hospital_id: int, terms: AppointmentFilter, *, count: int, offset: int
) -> tuple[int, list[Appointment]]:
    """(total, one page) of the hospital's appointments matching the filter, newest first."""
    query = (
        sa.select(Appointment)
        .join(ClinicSession, ClinicSession.id == Appointment.session_id)
        .where(Appointment.hospital_id == hospital_id)
    )
    if terms.patient_ids is not None:
        query = query.where(Appointment.patient_id.in_(terms.patient_ids or {-1}))
    if terms.clinician_id is not None:
        query = query.where(ClinicSession.clinician_id == terms.clinician_id)
    if terms.appointment_id is not None:
        query = query.where(Appointment.id == terms.appointment_id)
    if terms.states:
        query = query.where(Appointment.state.in_(terms.states))
    query = query.join(Slot, Slot.id == Appointment.slot_id)
    if terms.window.lower is not None:
        query = query.where(Slot.starts_at >= terms.window.lower)
    if terms.window.upper is not None:
        query = query.where(Slot.starts_at < terms.window.upper)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Slot.starts_at.desc(), Appointment.id.desc()).limit(count).offset(offset)
    ).all()
    return total, list(rows)


def appointment_resource(row: Appointment, cat: Catalogue, *, now: datetime) -> dict[str, Any]:
    session = row.slot.session
    state = effective_state(row, now=now)
    return fhir.appointment(
        row,
        status=fhir.APPOINTMENT_STATUS[state],
        clinician_id=session.clinician_id,
        department=cat.departments.get(session.department_id),
        service_point_id=session.service_point_id,
    )


# ---- patients -------------------------------------------------------------------------------


def visible_patient_ids(account: Any) -> frozenset[int]:
    """The patients a patient account reaches: its own profile and linked family members."""
    return frozenset(p.id for p in patients_acting_for(account, Permission.VIEW))


def patients(
    hospital_id: int, ids: frozenset[int] | None, *, identifier: str | None
) -> list[Patient]:
    query = sa.select(Patient).where(Patient.hospital_id == hospital_id).order_by(Patient.id)
    if ids is not None:
        query = query.where(Patient.id.in_(ids or {-1}))
    if identifier is not None:
        query = query.where(Patient.medical_record_number == identifier)
    return list(db.session.scalars(query.limit(1000)).all())


# ---- $find: proposals from one query --------------------------------------------------------


class Proposal(NamedTuple):
    """A bookable place as $find proposes it: the columns its Appointment is built from."""

    slot_id: int
    starts_at: datetime
    ends_at: datetime
    clinician_id: int | None
    department_id: int
    service_point_id: int | None
    fee_class: FeeClass
    fee_fen: int


class SessionTerms(NamedTuple):
    """What every proposal of one clinic session shares (all but the slot's id and times)."""

    clinician_id: int | None
    department_id: int
    service_point_id: int | None
    fee_class: FeeClass
    fee_fen: int


@dataclass
class BookablePlaces:
    """One page of bookable places, as lean as a whole answer of thousands needs.

    `rows` are (slot id, session id, start, end) with the times as the database driver returns
    them (an aware datetime from PostgreSQL, text from SQLite): thousands of places share a few
    hundred times, so `time` converts each distinct value once. `sessions` holds what the
    places of each session share.
    """

    total: int
    rows: Sequence[tuple[int, int, Any, Any]]
    sessions: dict[int, SessionTerms]
    _convert: Callable[[Any], Any] | None = None
    _times: dict[Any, datetime] = field(default_factory=dict)

    def time(self, value: Any) -> datetime:
        """A start or end of `rows` as an aware UTC datetime."""
        converted = self._times.get(value)
        if converted is None:
            converted = self._convert(value) if self._convert is not None else value
            converted = self._times[value] = converted.astimezone(UTC)
        return converted


_statements: dict[tuple[bool, ...], tuple[Any, Any]] = {}
_SESSION_TERMS = sa.select(
    ClinicSession.id,
    ClinicSession.clinician_id,
    ClinicSession.department_id,
    ClinicSession.service_point_id,
    ClinicSession.fee_class,
    ClinicSession.fee_fen,
).where(ClinicSession.id.in_(sa.bindparam("ids", expanding=True)))


def _proposal_statements(shape: tuple[bool, bool, bool, bool, bool, bool]) -> tuple[Any, Any]:
    """The bookable-places page query and its count, for one combination of filters.

    Built once and reused: every value is a bound parameter, so SQLAlchemy's compiled cache
    answers each later call. The rule is search_availability's: open session, released, booking
    not closed, a place left once lapsed holds are given back. The page selects only what
    differs from place to place; the times untyped, so no per-row conversion runs.
    """
    statements = _statements.get(shape)
    if statements is not None:
        return statements
    has_department, has_clinician, has_point, has_fee, has_lower, has_upper = shape
    now = sa.bindparam("now", type_=Slot.closes_at.type)
    lapsed = (
        sa.select(Appointment.slot_id, sa.func.count().label("lapsed"))
        .where(Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at <= now)
        .group_by(Appointment.slot_id)
        .subquery()
    )
    remaining = Slot.capacity - Slot.booked + sa.func.coalesce(lapsed.c.lapsed, 0)
    where = [
        Slot.hospital_id == sa.bindparam("hospital_id"),
        Slot.local_date.between(
            sa.bindparam("first", type_=sa.Date), sa.bindparam("last", type_=sa.Date)
        ),
        Slot.closes_at > now,
        ClinicSession.status == SessionStatus.OPEN,
        ClinicSession.release_at <= now,
        remaining > 0,
    ]
    if has_department:
        where.append(ClinicSession.department_id == sa.bindparam("department_id"))
    if has_clinician:
        where.append(ClinicSession.clinician_id == sa.bindparam("clinician_id"))
    if has_point:
        where.append(ClinicSession.service_point_id == sa.bindparam("service_point_id"))
    if has_fee:
        where.append(
            ClinicSession.fee_class == sa.bindparam("fee_class", type_=ClinicSession.fee_class.type)
        )
    if has_lower:
        where.append(Slot.starts_at >= sa.bindparam("lower", type_=Slot.starts_at.type))
    if has_upper:
        where.append(Slot.starts_at < sa.bindparam("upper", type_=Slot.starts_at.type))

    def places(*columns: Any) -> Any:
        return (
            sa.select(*columns)
            .join(ClinicSession, ClinicSession.id == Slot.session_id)
            .outerjoin(lapsed, lapsed.c.slot_id == Slot.id)
            .where(*where)
        )

    untyped = sa.types.NullType()
    page = (
        places(
            Slot.id,
            Slot.session_id,
            sa.type_coerce(Slot.starts_at, untyped).label("starts_at"),
            sa.type_coerce(Slot.ends_at, untyped).label("ends_at"),
        )
        .order_by(Slot.starts_at, ClinicSession.clinician_id, Slot.id)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )
    count = sa.select(sa.func.count()).select_from(places(Slot.id).subquery())
    _statements[shape] = page, count
    return page, count


def bookable_places(
    hospital_id: int, terms: SlotFilter, *, now: datetime, count: int, offset: int
) -> BookablePlaces:
    """One page of the bookable places matching the filter, in time order, and their total."""
    first, last = local_dates(hospital_id, terms.window, now=now)
    if first > last:
        return BookablePlaces(0, [], {})
    window = terms.window
    shape = (
        terms.department_id is not None,
        terms.clinician_id is not None,
        terms.service_point_id is not None,
        terms.fee_class is not None,
        window.lower is not None,
        window.upper is not None,
    )
    values: dict[str, Any] = {
        "hospital_id": hospital_id,
        "first": first,
        "last": last,
        "now": now,
        "department_id": terms.department_id,
        "clinician_id": terms.clinician_id,
        "service_point_id": terms.service_point_id,
        "fee_class": terms.fee_class,
        "lower": window.lower,
        "upper": window.upper,
    }
    page, counted = _proposal_statements(shape)
    # Plain rows of columns on the session's connection (after its pending changes), not
    # through the ORM's result machinery, which costs more than the query on a whole answer.
    db.session.flush()
    connection = db.session.connection()
    rows = connection.execute(page, {**values, "limit": count, "offset": offset}).tuples().all()
    if rows and len(rows) < count:  # the last page: the total is known
        total = offset + len(rows)
    elif not rows and offset == 0:
        total = 0
    else:
        total = connection.execute(counted, values).scalar_one()
    sessions = {
        session_id: SessionTerms(*terms_)
        for session_id, *terms_ in connection.execute(
            _SESSION_TERMS, {"ids": sorted({row[1] for row in rows})}
        )
    }
    dialect = connection.dialect
    convert = Slot.starts_at.type.dialect_impl(dialect).result_processor(dialect, None)
    return BookablePlaces(total, rows, sessions, convert)
