"""Real threads on PostgreSQL try hard to overbook: the counter and the constraint must hold."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from hospital.accounts.models import Account
from hospital.db import db
from hospital.errors import DomainError
from hospital.unit_of_work import unit_of_work
from scheduling.models import Appointment, AppointmentState
from scheduling.services import booking, changes
from tests.integration.scheduling.conftest import assert_slot_invariants, build_world
from tests.support.scheduling_factories import NOW, create_clinic_session, slots_of


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")


def run_threads(app: Flask, jobs: list[Any]) -> list[Any]:
    """Run each job in its own thread and unit of work, all released at once."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Any) -> None:
        with app.app_context():
            try:
                barrier.wait()
                with unit_of_work():
                    results[i] = ("ok", job())
            except DomainError as exc:
                with force_locale("en"):
                    results[i] = (exc.status, exc.code, str(exc.message))
            except BaseException as exc:  # noqa: BLE001
                results[i] = ("error", repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("capacity", [1, 5, 20])
def test_fifty_threads_holding_one_slot_get_exactly_capacity_places(
    app: Flask, committed: None, postgres_only: None, capacity: int
) -> None:
    with app.app_context(), unit_of_work():
        world = build_world(n_patients=50)
        slot = slots_of(create_clinic_session(world.clinician, capacity=capacity))[0]
        pairs = [(a.id, p.id) for a, p in zip(world.accounts, world.patients, strict=True)]
        slot_id = slot.id

    def holder(account_id: int, patient_id: int) -> Any:
        def job() -> int:
            account = db.session.get(Account, account_id)
            return booking.hold(actor=account, patient_id=patient_id, slot_id=slot_id, now=NOW).id

        return job

    results = run_threads(app, [holder(a, p) for a, p in pairs])
    outcomes = Counter(r[0] for r in results)
    assert outcomes == {"ok": capacity, 409: 50 - capacity}, results
    refusals = {(r[1], r[2]) for r in results if r[0] == 409}
    assert refusals == {("slot_full", "This slot was just taken. Pick another time.")}
    with app.app_context():
        active = db.session.scalar(
            sa.select(sa.func.count()).where(
                Appointment.slot_id == slot_id, Appointment.state == AppointmentState.HELD
            )
        )
        assert active == capacity
        assert_slot_invariants()
        db.session.remove()


def test_a_double_clicked_hold_for_one_patient_gives_one_appointment(
    app: Flask, committed: None, postgres_only: None
) -> None:
    with app.app_context(), unit_of_work():
        world = build_world(n_patients=1)
        slots = slots_of(create_clinic_session(world.clinician, capacity=3))
        account_id, patient_id = world.accounts[0].id, world.patients[0].id
        slot_ids = [s.id for s in slots[:2]]

    def job_for(slot_id: int) -> Any:
        def job() -> int:
            account = db.session.get(Account, account_id)
            return booking.hold(actor=account, patient_id=patient_id, slot_id=slot_id, now=NOW).id

        return job

    results = run_threads(app, [job_for(slot_ids[i % 2]) for i in range(10)])
    assert Counter(r[0] for r in results) == {"ok": 1, 409: 9}, results
    with app.app_context():
        assert_slot_invariants()
        db.session.remove()


def test_a_reschedule_racing_a_cancel_leaves_consistent_counts(
    app: Flask, committed: None, postgres_only: None
) -> None:
    for _round in range(5):
        with app.app_context(), unit_of_work():
            world = build_world(n_patients=1)
            first, second = slots_of(create_clinic_session(world.clinician, capacity=1))[:2]
            account = world.accounts[0]
            appointment = booking.hold(
                actor=account, patient_id=world.patients[0].id, slot_id=first.id, now=NOW
            )
            booking.confirm(appointment.id, actor=account, now=NOW)
            ids = (account.id, appointment.id, second.id)

        def move(ids: tuple[int, int, int] = ids) -> Any:
            account = db.session.get(Account, ids[0])
            return changes.reschedule(ids[1], actor=account, new_slot_id=ids[2], now=NOW).slot_id

        def cancel(ids: tuple[int, int, int] = ids) -> Any:
            account = db.session.get(Account, ids[0])
            return changes.cancel(ids[1], actor=account, now=NOW).state

        results = run_threads(app, [move, cancel])
        assert all(r[0] in ("ok", 409) for r in results), results
        with app.app_context():
            final = db.session.get(Appointment, ids[1])
            assert final.state is AppointmentState.CANCELLED
            assert_slot_invariants()
            db.session.remove()
