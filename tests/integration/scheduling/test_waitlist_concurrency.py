"""Real threads on PostgreSQL free places at once: each goes to exactly one waiter, in join order."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Account
from hospital.db import db
from hospital.unit_of_work import unit_of_work
from scheduling.models import (
    Appointment,
    AppointmentState,
    OfferState,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistState,
)
from scheduling.services import booking, changes
from scheduling.services import waitlist as waitlist_service
from tests.integration.scheduling.conftest import World, assert_slot_invariants, build_world
from tests.integration.scheduling.test_booking_concurrency import run_threads
from tests.support.scheduling_factories import NOW, create_clinic_session, slots_of


def _full_session_with_waiters(
    places: int, waiters: int
) -> tuple[World, list[tuple[int, int]], list[int]]:
    """A session of `places` places, all booked, and `waiters` patients on its waitlist."""
    world = build_world(n_patients=places + waiters)
    # Five places a slot, booked by the first `places` patients.
    minutes = 15 * (places // 5)
    session = create_clinic_session(
        world.clinician, start=time(8), end=time(8 + minutes // 60, minutes % 60), capacity=5
    )
    slots = slots_of(session)
    bookings = []
    for i in range(places):
        account, patient = world.accounts[i], world.patients[i]
        held = booking.hold(actor=account, patient_id=patient.id, slot_id=slots[i // 5].id, now=NOW)
        booking.confirm(held.id, actor=account, now=NOW)
        bookings.append((account.id, held.id))
    entry_ids = []
    for n, i in enumerate(range(places, places + waiters)):
        entry = waitlist_service.join(
            actor=world.accounts[i],
            patient_id=world.patients[i].id,
            session_id=session.id,
            now=NOW + timedelta(milliseconds=n),
        )
        entry_ids.append(entry.id)
    return world, bookings, entry_ids


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL (SQLite serialises writers)")


def _canceller(account_id: int, appointment_id: int) -> Any:
    def job() -> int:
        account = db.session.get_one(Account, account_id)
        return changes.cancel(appointment_id, actor=account, now=NOW + timedelta(minutes=1)).id

    return job


def test_fifty_concurrent_cancellations_go_to_the_first_fifty_waiters_once_each(
    app: Flask, committed: None, postgres_only: None
) -> None:
    with app.app_context(), unit_of_work():
        _world, bookings, entry_ids = _full_session_with_waiters(places=50, waiters=200)

    results = run_threads(app, [_canceller(a, b) for a, b in bookings])
    assert Counter(r[0] for r in results) == {"ok": 50}, results

    with app.app_context():
        offers = db.session.scalars(sa.select(WaitlistOffer)).all()
        assert len(offers) == 50
        assert all(o.state is OfferState.OFFERED for o in offers)
        # Each place to exactly one waiter, and the waiters are the first fifty who joined.
        assert len({o.entry_id for o in offers}) == 50
        assert len({o.appointment_id for o in offers}) == 50
        assert {o.entry_id for o in offers} == set(entry_ids[:50])
        states = Counter(db.session.scalars(sa.select(WaitlistEntry.state)).all())
        assert states == {WaitlistState.OFFERED: 50, WaitlistState.WAITING: 150}
        held = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Appointment)
            .where(Appointment.state == AppointmentState.HELD)
        )
        assert held == 50
        assert_slot_invariants()


def test_the_open_market_and_offers_never_oversell(
    app: Flask, committed: None, postgres_only: None
) -> None:
    with app.app_context(), unit_of_work():
        world, bookings, entry_ids = _full_session_with_waiters(places=20, waiters=30)
        market = [(a.id, p.id) for a, p in (world.add_patient() for _ in range(20))]
        slot_ids = list(
            db.session.scalars(
                sa.select(Appointment.slot_id).where(Appointment.id.in_([b for _a, b in bookings]))
            ).all()
        )

    def buyer(account_id: int, patient_id: int, slot_id: int) -> Any:
        def job() -> int:
            account = db.session.get_one(Account, account_id)
            return booking.hold(
                actor=account,
                patient_id=patient_id,
                slot_id=slot_id,
                now=NOW + timedelta(minutes=1),
            ).id

        return job

    jobs = [_canceller(a, b) for a, b in bookings] + [
        buyer(a, p, slot_ids[i % len(slot_ids)]) for i, (a, p) in enumerate(market)
    ]
    results = run_threads(app, jobs)
    assert Counter(r[0] for r in results[:20]) == {"ok": 20}, results
    # Every freed place went to a waiter inside the cancelling transaction: none was on sale.
    assert Counter(r[0] for r in results[20:]) == {409: 20}, results
    with app.app_context():
        offers = db.session.scalars(sa.select(WaitlistOffer)).all()
        assert {o.entry_id for o in offers} == set(entry_ids[:20])
        assert_slot_invariants()
