"""A visit starts once per patient and day: by a booking, a walk-in ticket or a same-day number."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db
from hospital.errors import InvalidInput, NotFound
from hospital.unit_of_work import unit_of_work
from hospital.visits import codes
from hospital.visits.models import Visit
from hospital.visits.services import hospital_day, resolve_code, visit_for
from scheduling.models import AppointmentState
from scheduling.services import booking
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.scheduling_factories import NOW as SCHED_NOW
from tests.support.scheduling_factories import create_clinic_session, slots_of

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _visits(patient_id: int) -> list[Visit]:
    return list(db.session.scalars(sa.select(Visit).where(Visit.patient_id == patient_id)))


def test_booking_starts_one_visit_on_the_slots_day(
    hospital, create_department, create_clinician, create_account, create_patient
):
    clinician = create_clinician(create_department(hospital))
    session = create_clinic_session(clinician)
    other = create_clinic_session(create_clinician(create_department(hospital)))
    first, second = slots_of(session)[0], slots_of(other)[3]
    account = create_account(hospital)
    patient = create_patient(hospital, account=account, birth_date=date(1990, 1, 1))
    for slot in (first, second):
        held = booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=SCHED_NOW)
        if held.state is AppointmentState.HELD:
            booking.confirm(held.id, actor=account, now=SCHED_NOW)
    visits = _visits(patient.id)
    assert len(visits) == 1
    visit = visits[0]
    assert visit.service_date == session.local_date  # the slot's day, not the booking's
    assert visit.department_id == clinician.department_id
    assert visit.registration_online  # booked from the patient's own account
    assert codes.well_formed(visit.code)


def test_walk_in_ticket_starts_todays_visit_and_anonymous_one_none(hospital, create_patient):
    point = factories.create_service_point(hospital)
    qf.open_queue(point, now=NOW)
    patient = create_patient(hospital)
    qf.walk_in(hospital, point, now=NOW, patient_id=patient.id)
    qf.walk_in(hospital, point, now=NOW)
    (visit,) = _visits(patient.id)
    assert visit.service_date == hospital_day(hospital.id, NOW)
    assert visit.virtual_queue
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) >= 1
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Visit).where(Visit.hospital_id == hospital.id)
        )
        == 1
    )


def test_codes_are_unique_and_not_guessable(hospital, create_patient):
    day = hospital_day(hospital.id, NOW)
    made = {
        visit_for(
            hospital_id=hospital.id,
            patient_id=create_patient(hospital).id,
            service_date=day,
            now=NOW,
        ).code
        for _ in range(20)
    }
    assert len(made) == 20
    assert all(len(c) == 26 and c.startswith("V-") for c in made)


def test_unknown_and_other_hospitals_codes_are_refused_and_audited(
    hospital, create_hospital, create_patient
):
    other = create_hospital()
    foreign = visit_for(
        hospital_id=other.id,
        patient_id=create_patient(other).id,
        service_date=hospital_day(other.id, NOW),
        now=NOW,
    )
    with pytest.raises(NotFound):
        resolve_code("V-" + "A" * 24, hospital_id=hospital.id, station="test", now=NOW)
    with pytest.raises(InvalidInput):
        resolve_code(foreign.code, hospital_id=hospital.id, station="test", now=NOW)
    refusals = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.hospital_id == hospital.id, AuditEntry.action == "visit.code_refused"
        )
    ).all()
    assert sorted(r.detail["reason"] for r in refusals) == ["other_hospital", "unknown"]
    assert all(r.outcome == "denied" for r in refusals)
    assert all(r.patient_id is None for r in refusals)  # no patient of this hospital named


@pytest.fixture
def postgres_only(backend):
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL; SQLite serialises writers")


def test_twenty_concurrent_starts_make_one_visit(app, committed, postgres_only):
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        patient = factories.create_patient(hospital)
        ids = (hospital.id, patient.id)
    hospital_id, patient_id = ids
    day = date(2026, 3, 2)
    codes_seen: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def start() -> None:
        try:
            with app.app_context():
                barrier.wait()
                with unit_of_work():
                    visit = visit_for(
                        hospital_id=hospital_id,
                        patient_id=patient_id,
                        service_date=day,
                        now=NOW + timedelta(seconds=1),
                    )
                    codes_seen.append(visit.code)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with app.app_context():
        rows = db.session.scalars(sa.select(Visit).where(Visit.patient_id == patient_id)).all()
        db.session.remove()
    assert len(rows) == 1
    assert set(codes_seen) == {rows[0].code}
