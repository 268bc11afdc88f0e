"""Random sequences of hold / confirm / cancel / expire / reschedule / no-show / waitlist steps keep
the invariants."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from hospital.db import db
from hospital.errors import DomainError
from scheduling.models import (
    Appointment,
    AppointmentState,
    OfferState,
    Slot,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistState,
)
from scheduling.services import attendance, booking, changes, offers, places, rules
from scheduling.services import waitlist as waitlist_service
from tests.integration.scheduling.conftest import assert_slot_invariants, build_world
from tests.support.scheduling_factories import NOW, create_clinic_session, set_rules, slots_of

DAILY_LIMIT = 2


class BookingMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        # Each example runs in its own savepoint, so examples (and Hypothesis' replays of a
        # failing one) start from the same database and generate the same steps.
        self.example = db.session.begin_nested()
        self.world = build_world(n_patients=3)
        # Two family members on the first account, so the per-account limit is exercised.
        for _ in range(2):
            self.world.add_patient(account=self.world.accounts[0])
        set_rules(
            self.world.hospital.id,
            max_active_per_patient_per_day=DAILY_LIMIT,
            max_active_per_account_per_day=DAILY_LIMIT + 1,
            reschedule_limit=2,
            hold_minutes=10,
        )
        soon = create_clinic_session(
            self.world.clinician,
            local_date=NOW.astimezone(rules.hospital_zone(self.world.hospital.id)).date(),
            start=time(10, 40),
            end=time(11, 40),
            slot_minutes=20,
            capacity=2,
        )
        later = create_clinic_session(self.world.clinician, capacity=1, slot_minutes=60)
        other = create_clinic_session(
            self.world.clinician, capacity=2, start=time(14), end=time(16), slot_minutes=60
        )
        self.slots = slots_of(soon) + slots_of(later) + slots_of(other)
        self.now = NOW
        self.appointment_ids: list[int] = []

    def attempt(self, fn: Any) -> Any:
        try:
            with db.session.begin_nested():
                return fn()
        except DomainError:
            return None

    def pair(self, i: int) -> tuple[Any, Any]:
        patient = self.world.patients[i % len(self.world.patients)]
        account = self.world.accounts[i % len(self.world.accounts)]
        return account, patient

    def appointment_id(self, i: int) -> int | None:
        return self.appointment_ids[i % len(self.appointment_ids)] if self.appointment_ids else None

    @rule(who=st.integers(0, 9), slot=st.integers(0, 20), staff=st.booleans())
    def hold(self, who: int, slot: int, staff: bool) -> None:
        account, patient = self.pair(who)
        actor = self.world.registrar if staff else account
        target = self.slots[slot % len(self.slots)]
        made = self.attempt(
            lambda: booking.hold(
                actor=actor, patient_id=patient.id, slot_id=target.id, now=self.now
            )
        )
        if made is not None:
            self.appointment_ids.append(made.id)

    @rule(i=st.integers(0, 50))
    def confirm(self, i: int) -> None:
        appointment_id = self.appointment_id(i)
        if appointment_id is not None:
            self.attempt(
                lambda: booking.confirm(appointment_id, actor=self.world.registrar, now=self.now)
            )

    @rule(i=st.integers(0, 50), staff=st.booleans())
    def cancel(self, i: int, staff: bool) -> None:
        appointment_id = self.appointment_id(i)
        if appointment_id is None:
            return
        appointment = db.session.get(Appointment, appointment_id)
        actor = (
            self.world.registrar
            if staff
            else next(a for a in self.world.accounts if a.id == appointment.account_id)
            if any(a.id == appointment.account_id for a in self.world.accounts)
            else self.world.registrar
        )
        self.attempt(
            lambda: changes.cancel(appointment_id, actor=actor, now=self.now, reason="test")
        )

    @rule(i=st.integers(0, 50), slot=st.integers(0, 20))
    def reschedule(self, i: int, slot: int) -> None:
        appointment_id = self.appointment_id(i)
        if appointment_id is None:
            return
        target = self.slots[slot % len(self.slots)]
        self.attempt(
            lambda: changes.reschedule(
                appointment_id, actor=self.world.registrar, new_slot_id=target.id, now=self.now
            )
        )

    @rule(who=st.integers(0, 9), slot=st.integers(0, 20), by_clinician=st.booleans())
    def join_waitlist(self, who: int, slot: int, by_clinician: bool) -> None:
        account, patient = self.pair(who)
        target = self.slots[slot % len(self.slots)]
        if by_clinician:
            self.attempt(
                lambda: waitlist_service.join(
                    actor=account,
                    patient_id=patient.id,
                    clinician_id=self.world.clinician.id,
                    first_date=target.local_date,
                    now=self.now,
                )
            )
        else:
            self.attempt(
                lambda: waitlist_service.join(
                    actor=account, patient_id=patient.id, session_id=target.session_id, now=self.now
                )
            )

    def offer_id(self, i: int) -> tuple[int, Any] | None:
        ids = db.session.scalars(sa.select(WaitlistOffer.id).order_by(WaitlistOffer.id)).all()
        if not ids:
            return None
        offer = db.session.get_one(WaitlistOffer, ids[i % len(ids)])
        account = next(
            (a for a in self.world.accounts if a.id == offer.entry.account_id), self.world.registrar
        )
        return offer.id, account

    @rule(i=st.integers(0, 50), take=st.booleans())
    def answer_offer(self, i: int, take: bool) -> None:
        found = self.offer_id(i)
        if found is None:
            return
        offer_id, account = found
        answer = offers.accept if take else offers.decline
        self.attempt(lambda: answer(offer_id, actor=account, now=self.now))

    @rule(i=st.integers(0, 50))
    def leave_waitlist(self, i: int) -> None:
        ids = db.session.scalars(sa.select(WaitlistEntry.id).order_by(WaitlistEntry.id)).all()
        if ids:
            entry = db.session.get_one(WaitlistEntry, ids[i % len(ids)])
            account = next(a for a in self.world.accounts if a.id == entry.account_id)
            self.attempt(lambda: waitlist_service.leave(entry.id, actor=account, now=self.now))

    @rule()
    def waitlist_sweep(self) -> None:
        from scheduling import jobs

        self.attempt(lambda: jobs.waitlist_sweep(now=self.now))

    @rule(minutes=st.integers(1, 25))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def expiry_job(self) -> None:
        self.attempt(lambda: places.release_expired_holds(now=self.now))

    @rule()
    def no_show_job(self) -> None:
        self.attempt(lambda: attendance.mark_no_shows(now=self.now))

    def teardown(self) -> None:
        if hasattr(self, "example"):
            self.example.rollback()
            db.session.expire_all()

    @invariant()
    def counters_match_occupants(self) -> None:
        if hasattr(self, "world"):
            assert_slot_invariants()

    @invariant()
    def offers_are_single_holds(self) -> None:
        """A live offer is one held appointment in its slot; an entry has at most one live offer."""
        if not hasattr(self, "world"):
            return
        live = db.session.scalars(
            sa.select(WaitlistOffer)
            .where(WaitlistOffer.state == OfferState.OFFERED)
            .execution_options(populate_existing=True)
        ).all()
        assert len({o.entry_id for o in live}) == len(live)
        assert len({o.appointment_id for o in live}) == len(live)
        for offer in live:
            appointment = db.session.get_one(Appointment, offer.appointment_id)
            db.session.refresh(appointment)
            assert appointment.state is AppointmentState.HELD
            assert appointment.slot_id == offer.slot_id
            assert appointment.hold_expires_at == offer.expires_at
            db.session.refresh(offer.entry)
            # A patient who left the list keeps the offer already out to answer.
            assert offer.entry.state in (WaitlistState.OFFERED, WaitlistState.LEFT)
        offered = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(WaitlistEntry)
            .where(WaitlistEntry.state == WaitlistState.OFFERED)
        )
        assert offered == sum(1 for o in live if o.entry.state is WaitlistState.OFFERED)
        accepted = db.session.scalars(
            sa.select(WaitlistOffer.appointment_id).where(
                WaitlistOffer.state == OfferState.ACCEPTED
            )
        ).all()
        for appointment_id in accepted:
            assert (
                db.session.get_one(Appointment, appointment_id).state is not AppointmentState.HELD
            )

    @invariant()
    def limits_hold(self) -> None:
        if not hasattr(self, "world"):
            return
        active = sa.or_(
            Appointment.state.in_((AppointmentState.BOOKED, AppointmentState.CHECKED_IN)),
            sa.and_(
                Appointment.state == AppointmentState.HELD, Appointment.hold_expires_at > self.now
            ),
        )
        per_session = db.session.execute(
            sa.select(Appointment.patient_id, Appointment.session_id, sa.func.count())
            .where(active)
            .group_by(Appointment.patient_id, Appointment.session_id)
        ).all()
        assert all(n <= 1 for _p, _s, n in per_session)
        per_day = db.session.execute(
            sa.select(Appointment.patient_id, Appointment.local_date, sa.func.count())
            .where(active)
            .group_by(Appointment.patient_id, Appointment.local_date)
        ).all()
        assert all(n <= DAILY_LIMIT for _p, _d, n in per_day)
        # No slot shows more remaining places than it has.
        slots = db.session.scalars(sa.select(Slot).execution_options(populate_existing=True)).all()
        assert all(0 <= s.booked <= s.capacity + s.addon_allowance for s in slots)


def test_random_booking_sequences_keep_the_invariants(db_session: Any) -> None:
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
