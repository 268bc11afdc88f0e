"""The waitlist (候补): joining, FIFO offers as holds, decline and lapse passing on, quiet hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from hospital.db import db
from hospital.errors import Conflict, DomainError, Forbidden
from hospital.notifications.models import OutboxMessage
from hospital.patients.models import FamilyLink
from scheduling.models import (
    Appointment,
    AppointmentState,
    BookingSuspension,
    ClinicSession,
    OfferState,
    Slot,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistState,
)
from scheduling.services import (
    booking,
    changes,
    keep_or_release,
    offers,
    places,
    templates,
    waitlist_stats,
)
from scheduling.services import waitlist as waitlist_service
from tests.integration.scheduling.conftest import World, assert_slot_invariants
from tests.support import factories
from tests.support.scheduling_factories import NOW, create_clinic_session, slots_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))


@pytest.fixture
def full(world: World) -> tuple[ClinicSession, Slot, Appointment]:
    """A one-place session, booked by the first patient."""
    for _ in range(3):
        world.add_patient()
    session = create_clinic_session(world.clinician, start=time(8), end=time(8, 15))
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    booked = booking.confirm(held.id, actor=world.accounts[0], now=NOW)
    return session, slot, booked


def join(world: World, i: int, session: ClinicSession, now: datetime = NOW) -> WaitlistEntry:
    return waitlist_service.join(
        actor=world.accounts[i], patient_id=world.patients[i].id, session_id=session.id, now=now
    )


def live_offers() -> list[WaitlistOffer]:
    return list(
        db.session.scalars(
            sa.select(WaitlistOffer)
            .where(WaitlistOffer.state == OfferState.OFFERED)
            .execution_options(populate_existing=True)
        ).all()
    )


def offer_messages() -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.template == offers.OFFER_MADE)
        ).all()
    )


def test_join_shows_the_place_in_line_and_leave_ends_it(world: World, full: Any) -> None:
    session, _slot, _booked = full
    first, second = join(world, 1, session), join(world, 2, session, NOW + timedelta(seconds=1))
    assert (waitlist_service.position(first), waitlist_service.position(second)) == (1, 2)
    views = waitlist_service.entries_for_account(actor=world.accounts[2], now=NOW)
    assert [(v.position, v.target) for v in views] == [(2, world.clinician.name_zh)]
    waitlist_service.leave(first.id, actor=world.accounts[1], now=NOW)
    assert first.state is WaitlistState.LEFT
    assert waitlist_service.position(second) == 1


def test_joining_is_refused_with_free_places_a_booking_or_too_many_entries(
    world: World, full: Any
) -> None:
    session, _slot, _booked = full
    with pytest.raises(Conflict) as already:
        join(world, 0, session)
    assert already.value.code == "already_booked_in_session"
    free = create_clinic_session(world.clinician, start=time(14), end=time(15))
    with pytest.raises(Conflict) as has_free:
        join(world, 1, free)
    assert has_free.value.code == "waitlist_places_free"
    join(world, 1, session)
    with pytest.raises(Conflict) as twice:
        join(world, 1, session)
    assert twice.value.code == "waitlist_already_joined"
    for days in (3, 4):
        waitlist_service.join(
            actor=world.accounts[1],
            patient_id=world.patients[1].id,
            clinician_id=world.clinician.id,
            first_date=NOW.date() + timedelta(days=days),
            last_date=NOW.date() + timedelta(days=days),
            now=NOW,
        )
    with pytest.raises(Conflict) as limit:
        waitlist_service.join(
            actor=world.accounts[1],
            patient_id=world.patients[1].id,
            department_id=world.department.id,
            now=NOW,
        )
    assert limit.value.code == "waitlist_limit"


def test_a_suspended_patient_cannot_join(world: World, full: Any) -> None:
    session, _slot, _booked = full
    db.session.add(
        BookingSuspension(
            hospital_id=world.hospital.id,
            patient_id=world.patients[1].id,
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=10),
            strikes=3,
        )
    )
    db.session.flush()
    with pytest.raises(Forbidden):
        join(world, 1, session)


def test_a_cancelled_place_is_held_for_the_first_waiter_and_messaged(
    world: World, full: Any
) -> None:
    session, slot, booked = full
    first = join(world, 1, session)
    join(world, 2, session, NOW + timedelta(seconds=1))
    at = NOW + timedelta(minutes=5)
    changes.cancel(booked.id, actor=world.accounts[0], now=at)
    [offer] = live_offers()
    assert offer.entry_id == first.id
    assert offer.expires_at == at + timedelta(minutes=15)
    held = db.session.get_one(Appointment, offer.appointment_id)
    assert (held.state, held.patient_id, held.slot_id) == (
        AppointmentState.HELD,
        world.patients[1].id,
        slot.id,
    )
    assert held.hold_expires_at == offer.expires_at
    assert first.state is WaitlistState.OFFERED
    assert len(offer_messages()) == 1
    # The open market cannot take the place meanwhile.
    with pytest.raises(Conflict):
        booking.hold(
            actor=world.accounts[3], patient_id=world.patients[3].id, slot_id=slot.id, now=at
        )
    assert_slot_invariants()


def test_declining_passes_the_place_on_and_keeps_waiting(world: World, full: Any) -> None:
    session, _slot, booked = full
    first = join(world, 1, session)
    second = join(world, 2, session, NOW + timedelta(seconds=1))
    changes.cancel(booked.id, actor=world.accounts[0], now=NOW)
    [offer] = live_offers()
    offers.decline(offer.id, actor=world.accounts[1], now=NOW + timedelta(minutes=1))
    assert offer.state is OfferState.DECLINED
    [passed] = live_offers()
    assert passed.entry_id == second.id
    assert first.state is WaitlistState.WAITING
    assert_slot_invariants()


def test_accepting_a_free_place_books_it(world: World, full: Any) -> None:
    session, _slot, booked = full
    entry = join(world, 1, session)
    changes.cancel(booked.id, actor=world.accounts[0], now=NOW)
    [offer] = live_offers()
    appointment = offers.accept(offer.id, actor=world.accounts[1], now=NOW + timedelta(minutes=2))
    assert appointment.state is AppointmentState.BOOKED
    assert (offer.state, entry.state) == (OfferState.ACCEPTED, WaitlistState.FULFILLED)
    stats = waitlist_stats.statistics(
        hospital_id=world.hospital.id, since=NOW - timedelta(days=1), until=NOW + timedelta(days=1)
    )
    assert (stats.freed, stats.rebooked, stats.offers_sent, stats.offers_accepted) == (1, 1, 1, 1)
    assert stats.median_minutes_to_rebook == 2
    with pytest.raises(Conflict):
        offers.accept(offer.id, actor=world.accounts[1], now=NOW + timedelta(minutes=3))


def test_a_fee_bearing_offer_is_booked_by_its_payment(world: World) -> None:
    session = create_clinic_session(world.clinician, start=time(8), end=time(8, 15), fee_fen=5000)
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    booking.confirm_booking(held.id, now=NOW)
    entry = join(world, 1, session)
    changes.cancel(held.id, actor=world.accounts[0], now=NOW)
    [offer] = live_offers()
    appointment = offers.accept(offer.id, actor=world.accounts[1], now=NOW)
    assert appointment.state is AppointmentState.HELD  # paying books it
    booking.confirm_booking(appointment.id, now=NOW + timedelta(minutes=1))
    assert (offer.state, entry.state) == (OfferState.ACCEPTED, WaitlistState.FULFILLED)


def test_lapsed_offers_pass_on_and_three_lapses_leave_the_list(world: World) -> None:
    first_day = NOW.astimezone(SHANGHAI).date() + timedelta(days=2)
    sessions = [
        create_clinic_session(
            world.clinician,
            local_date=first_day + timedelta(days=i),
            start=time(8),
            end=time(8, 15),
        )
        for i in range(3)
    ]
    bookings = []
    for session in sessions:
        slot = slots_of(session)[0]
        held = booking.hold(
            actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
        )
        bookings.append(booking.confirm(held.id, actor=world.accounts[0], now=NOW))
    lazy = waitlist_service.join(
        actor=world.accounts[1],
        patient_id=world.patients[1].id,
        clinician_id=world.clinician.id,
        first_date=first_day,
        last_date=first_day + timedelta(days=2),
        now=NOW,
    )
    patient = waitlist_service.join(
        actor=world.accounts[2],
        patient_id=world.patients[2].id,
        clinician_id=world.clinician.id,
        first_date=first_day,
        last_date=first_day + timedelta(days=2),
        now=NOW + timedelta(seconds=1),
    )
    now = NOW
    for i, appointment in enumerate(bookings):
        changes.cancel(appointment.id, actor=world.accounts[0], now=now)
        [offer] = [o for o in live_offers() if o.entry_id == lazy.id]
        now = offer.expires_at
        assert offers.expire_lapsed_offers(now=now) == 1
        assert offers.expire_lapsed_offers(now=now) == 0  # a second run does nothing more
        assert offer.state is OfferState.LAPSED
        assert lazy.lapses == i + 1
        # The place went on to the next waiter at once; they take it.
        [passed] = [o for o in live_offers() if o.entry_id == patient.id]
        offers.accept(passed.id, actor=world.accounts[2], now=now)
        patient.state = WaitlistState.WAITING  # keep waiting for the next session, for the test
    assert lazy.state is WaitlistState.REMOVED
    assert_slot_invariants()


def test_places_freed_at_night_are_offered_from_seven(world: World, full: Any) -> None:
    session, _slot, booked = full
    join(world, 1, session)
    night = local(NOW.astimezone(SHANGHAI).date(), 23, 30)
    changes.cancel(booked.id, actor=world.accounts[0], now=night)
    [offer] = live_offers()
    seven = local(NOW.astimezone(SHANGHAI).date() + timedelta(days=1), 7)
    assert (offer.notify_at, offer.expires_at) == (seven, seven + timedelta(minutes=15))
    assert offer_messages() == []
    assert offers.offer_settings().max_lapses == 3
    assert offers.send_due_offers(now=seven - timedelta(minutes=1)) == 0
    assert offers.send_due_offers(now=seven + timedelta(minutes=3)) == 1
    assert offers.send_due_offers(now=seven + timedelta(minutes=4)) == 0
    assert len(offer_messages()) == 1


def test_the_window_shortens_near_the_start_and_stops_at_the_cut_off(world: World) -> None:
    session = create_clinic_session(
        world.clinician,
        start=time(11),
        end=time(11, 15),
        booking_closes_minutes=0,
        local_date=NOW.astimezone(SHANGHAI).date(),
    )
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    booking.confirm(held.id, actor=world.accounts[0], now=NOW)
    join(world, 1, session)
    thirty_before = slot.starts_at - timedelta(minutes=30)
    changes.cancel(held.id, actor=world.registrar, now=thirty_before, reason="ill")
    [offer] = live_offers()
    assert offer.expires_at - offer.notify_at == timedelta(minutes=5)
    join(world, 2, session, thirty_before)
    assert offers.expire_lapsed_offers(now=slot.starts_at - timedelta(minutes=4)) == 1
    assert offer.state is OfferState.LAPSED
    assert live_offers() == []  # closer to the cut-off than the shortest window: not offered


def test_an_offer_respects_family_rights_at_the_moment_of_the_offer(
    world: World, full: Any
) -> None:
    session, _slot, booked = full
    parent = world.accounts[1]
    _acct, child = world.add_patient(account=parent)
    waitlist_service.join(actor=parent, patient_id=child.id, session_id=session.id, now=NOW)
    second = join(world, 2, session, NOW + timedelta(seconds=1))
    link = db.session.scalar(
        sa.select(FamilyLink).where(
            FamilyLink.account_id == parent.id, FamilyLink.patient_id == child.id
        )
    )
    link.can_book = False
    db.session.flush()
    changes.cancel(booked.id, actor=world.accounts[0], now=NOW)
    [offer] = live_offers()
    assert offer.entry_id == second.id


def test_a_reschedule_away_and_an_extra_session_offer_their_places(world: World, full: Any) -> None:
    session, _slot, booked = full
    entry = join(world, 1, session)
    other = create_clinic_session(world.clinician, start=time(14), end=time(14, 15))
    changes.reschedule(
        booked.id, actor=world.accounts[0], new_slot_id=slots_of(other)[0].id, now=NOW
    )
    [offer] = live_offers()
    assert offer.entry_id == entry.id
    wide = waitlist_service.join(
        actor=world.accounts[2],
        patient_id=world.patients[2].id,
        department_id=world.department.id,
        first_date=session.local_date + timedelta(days=1),
        now=NOW,
    )
    extra = templates.add_extra_session(
        world.hospital.id,
        {
            "department_id": world.department.id,
            "clinician_id": world.clinician.id,
            "start_time": time(9),
            "end_time": time(9, 15),
            "booking_opens_days": 14,
            # Every session has a room (issue 14); this clinician has no usual one.
            "service_point_id": factories.create_service_point(
                world.hospital, department_id=world.department.id
            ).id,
        },
        actor=world.admin,
        local_date=session.local_date + timedelta(days=1),
        now=NOW,
    )
    offered = [o for o in live_offers() if o.entry_id == wide.id]
    assert len(offered) == 1 and offered[0].slot_id == slots_of(extra)[0].id


def test_the_catch_up_sweep_offers_a_missed_place_once(world: World, full: Any) -> None:
    session, slot, booked = full
    # A place freed with nobody waiting yet goes back on sale; a waiter joins later.
    changes.cancel(booked.id, actor=world.accounts[0], now=NOW)
    other = booking.hold(
        actor=world.accounts[3], patient_id=world.patients[3].id, slot_id=slot.id, now=NOW
    )
    entry = join(world, 1, session)
    later = other.hold_expires_at
    assert later is not None
    places.release_expired_holds(now=later)  # the hold lapses: the waiter gets it at once
    [offer] = live_offers()
    assert offer.entry_id == entry.id
    assert offers.offer_missed_places(now=later) == 0
    offers.decline(offer.id, actor=world.accounts[1], now=later)
    assert offers.offer_missed_places(now=later) == 0  # nobody else waits
    assert_slot_invariants()


def test_entries_end_when_their_dates_have_passed(world: World, full: Any) -> None:
    session, _slot, _booked = full
    entry = join(world, 1, session)
    after = local(session.local_date + timedelta(days=1), 9)
    assert waitlist_service.end_past_entries(now=after) == 1
    assert waitlist_service.end_past_entries(now=after) == 0
    assert entry.state is WaitlistState.ENDED or db.session.refresh(entry) is None
    assert entry.state is WaitlistState.ENDED


def test_staff_see_demand_per_session_and_clinician(world: World, full: Any) -> None:
    session, _slot, _booked = full
    join(world, 1, session)
    join(world, 2, session)
    assert waitlist_service.waiting_for_sessions([session]) == {session.id: 2}
    [row] = waitlist_service.demand_by_clinician(actor=world.registrar, now=NOW)
    assert (row.clinician_id, row.waiting) == (world.clinician.id, 2)
    with pytest.raises(DomainError):
        waitlist_service.demand_by_clinician(actor=world.accounts[0], now=NOW)


def test_patients_are_asked_to_keep_or_release_once(world: World) -> None:
    session = create_clinic_session(
        world.clinician, local_date=NOW.astimezone(SHANGHAI).date() + timedelta(days=5)
    )
    slot = slots_of(session)[0]
    held = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    booked = booking.confirm(held.id, actor=world.accounts[0], now=NOW)
    assert keep_or_release.ask_keep_or_release(now=slot.starts_at - timedelta(hours=49)) == 0
    asked_at = slot.starts_at - timedelta(hours=47)
    assert keep_or_release.ask_keep_or_release(now=asked_at) == 1
    assert keep_or_release.ask_keep_or_release(now=asked_at + timedelta(minutes=30)) == 0
    assert booked.state is AppointmentState.BOOKED
