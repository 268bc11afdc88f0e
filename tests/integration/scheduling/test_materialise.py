"""Materialising slots from templates: idempotent, wall-clock across DST, exceptions respected."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Role
from hospital.db import db
from hospital.errors import InvalidInput
from hospital.unit_of_work import unit_of_work
from scheduling.models import ClinicSession, ExceptionKind, Slot
from scheduling.services import materialise, templates
from tests.support import factories


def count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def make_template(hospital: Any, clinician: Any, admin: Any, **kw: Any) -> Any:
    values = {
        "department_id": clinician.department_id,
        "clinician_id": clinician.id,
        "weekday": 0,
        "start_time": time(8),
        "end_time": time(12),
        "slot_minutes": 30,
        "capacity": 2,
        "booking_opens_days": 14,
        "valid_from": date(2026, 1, 1),
    }
    values.update(kw)
    return templates.create_template(
        hospital.id, values, actor=admin, now=datetime(2026, 1, 1, tzinfo=UTC)
    )


@pytest.fixture
def setup(db_session: Any) -> tuple[Any, Any, Any]:
    hospital = factories.create_hospital(timezone="Europe/Berlin")
    clinician = factories.create_clinician(factories.create_department(hospital))
    admin = factories.create_account(hospital, roles=(Role.ADMIN,))
    return hospital, clinician, admin


def test_materialising_twice_gives_the_same_slots(setup: tuple[Any, Any, Any]) -> None:
    hospital, clinician, admin = setup
    make_template(hospital, clinician, admin)
    now = datetime(2026, 3, 23, 5, tzinfo=UTC)
    created = materialise.materialise_slots(now=now, hospital_id=hospital.id)
    slots = count(Slot)
    assert created == 3 and slots == 3 * 8
    assert materialise.materialise_slots(now=now, hospital_id=hospital.id) == 0
    assert count(Slot) == slots


def test_sessions_stay_at_eight_local_across_the_spring_change(setup: tuple[Any, Any, Any]) -> None:
    hospital, clinician, admin = setup
    make_template(hospital, clinician, admin)
    materialise.materialise_slots(now=datetime(2026, 3, 23, 5, tzinfo=UTC), hospital_id=hospital.id)
    sessions = db.session.scalars(sa.select(ClinicSession).order_by(ClinicSession.local_date)).all()
    assert [s.local_date for s in sessions] == [
        date(2026, 3, 23),
        date(2026, 3, 30),
        date(2026, 4, 6),
    ]
    # 08:00 Berlin is 07:00 UTC in winter and 06:00 UTC in summer.
    assert [s.starts_at.hour for s in sessions] == [7, 6, 6]
    # Release: 14 days before at 07:00 local.
    assert sessions[1].release_at == datetime(2026, 3, 16, 6, tzinfo=UTC)


def test_a_template_must_be_sensible(setup: tuple[Any, Any, Any]) -> None:
    hospital, clinician, admin = setup
    with pytest.raises(InvalidInput) as caught:
        make_template(hospital, clinician, admin, start_time=time(12), end_time=time(8))
    assert caught.value.code == "session_times"
    with pytest.raises(InvalidInput) as caught:
        make_template(hospital, clinician, admin, end_time=time(8, 20))
    assert caught.value.code == "session_shorter_than_slot"


def test_a_holiday_entered_first_prevents_its_sessions(setup: tuple[Any, Any, Any]) -> None:
    hospital, clinician, admin = setup
    make_template(hospital, clinician, admin)
    now = datetime(2026, 3, 23, 5, tzinfo=UTC)
    templates.add_exception(
        hospital.id,
        actor=admin,
        kind=ExceptionKind.HOLIDAY,
        first_date=date(2026, 3, 30),
        last_date=date(2026, 3, 30),
        reason="Public holiday",
        now=now,
    )
    materialise.materialise_slots(now=now, hospital_id=hospital.id)
    days = db.session.scalars(
        sa.select(ClinicSession.local_date).order_by(ClinicSession.local_date)
    ).all()
    assert days == [date(2026, 3, 23), date(2026, 4, 6)]


def test_an_extra_session_adds_its_slots(setup: tuple[Any, Any, Any]) -> None:
    hospital, clinician, admin = setup
    # Issue 14: a session always has a room; without one it is held in the clinician's usual room.
    room = factories.create_service_point(hospital)
    make_template(hospital, clinician, admin, service_point_id=room.id)
    session = templates.add_extra_session(
        hospital.id,
        {
            "department_id": clinician.department_id,
            "clinician_id": clinician.id,
            "start_time": time(13),
            "end_time": time(14),
            "slot_minutes": 20,
            "capacity": 3,
        },
        actor=admin,
        local_date=date(2026, 3, 25),
        now=datetime(2026, 3, 20, tzinfo=UTC),
    )
    assert session.template_id is None
    assert session.service_point_id == room.id
    assert count(Slot) == 3


def test_an_extra_session_without_a_room_or_a_usual_one_is_refused(
    setup: tuple[Any, Any, Any],
) -> None:
    hospital, clinician, admin = setup
    with pytest.raises(InvalidInput) as caught:
        templates.add_extra_session(
            hospital.id,
            {
                "department_id": clinician.department_id,
                "clinician_id": clinician.id,
                "start_time": time(13),
                "end_time": time(14),
            },
            actor=admin,
            local_date=date(2026, 3, 25),
            now=datetime(2026, 3, 20, tzinfo=UTC),
        )
    assert caught.value.code == "session_without_room"
    assert count(ClinicSession) == 0 and count(Slot) == 0


def test_an_extra_session_in_the_past_is_refused(setup: tuple[Any, Any, Any]) -> None:
    hospital, clinician, admin = setup
    values = {
        "department_id": clinician.department_id,
        "clinician_id": clinician.id,
        "start_time": time(13),
        "end_time": time(14),
    }
    with pytest.raises(InvalidInput) as caught:
        templates.add_extra_session(
            hospital.id,
            values,
            actor=admin,
            local_date=date(2026, 3, 19),
            now=datetime(2026, 3, 20, tzinfo=UTC),
        )
    assert caught.value.code == "session_in_past"
    assert count(Slot) == 0


def test_two_processes_materialising_at_once_create_each_slot_once(
    app: Flask, committed: None, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital(timezone="America/New_York")
        department = factories.create_department(hospital)
        admin = factories.create_account(hospital, roles=(Role.ADMIN,))
        for _ in range(5):
            make_template(
                hospital,
                factories.create_clinician(department),
                admin,
                weekday=6,
                start_time=time(0),
                end_time=time(4),
                slot_minutes=15,
            )
        hospital_id = hospital.id
    now = datetime(2026, 10, 25, 12, tzinfo=UTC)  # the horizon covers the 1 November fold
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                barrier.wait()
                with unit_of_work():
                    materialise.materialise_slots(now=now, hospital_id=hospital_id)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        per_session = db.session.execute(
            sa.select(ClinicSession.local_date, sa.func.count(Slot.id))
            .join(Slot, Slot.session_id == ClinicSession.id)
            .group_by(ClinicSession.id, ClinicSession.local_date)
        ).all()
        assert len(per_session) == 5 * 3
        for day, n in per_session:
            # 00:00-04:00 every 15 minutes; on 1 November 01:00-02:00 happens twice, kept once.
            assert n == 16, (day, n)
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(
                    sa.select(Slot.session_id, Slot.starts_at)
                    .group_by(Slot.session_id, Slot.starts_at)
                    .having(sa.func.count() > 1)
                    .subquery()
                )
            )
            == 0
        )
        db.session.remove()
