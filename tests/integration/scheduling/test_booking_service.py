"""Holds, bookings, cancellations, expiry, reschedules, limits, add-ons and no-show strikes."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from hospital import events
from hospital.audit.models import AuditEntry
from hospital.db import db
from hospital.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from hospital.notifications.models import OutboxMessage
from scheduling.models import Appointment, AppointmentState, BookingSuspension, ExceptionKind, Slot
from scheduling.services import (
    attendance,
    availability,
    booking,
    changes,
    places,
    queries,
    rules,
    templates,
)
from tests.integration.scheduling.conftest import World, assert_slot_invariants
from tests.support.scheduling_factories import NOW, create_clinic_session, set_rules, slots_of


def booked_count(slot: Slot) -> int:
    return db.session.scalar(sa.select(Slot.booked).where(Slot.id == slot.id))


def appointments() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Appointment))


def pay_and_book(account: Any, appointment_id: int, *, now: Any) -> Appointment:
    """Book a fee-bearing hold the way its payment does (billing's order_paid receiver)."""
    booked = booking.confirm_booking(appointment_id, now=now)
    assert booked is not None
    return booked


@pytest.fixture
def slot(world: World) -> Slot:
    return slots_of(create_clinic_session(world.clinician, capacity=1, fee_fen=5000))[0]


def test_hold_takes_the_place_and_confirm_books_it(world: World, slot: Slot) -> None:
    account, patient = world.accounts[0], world.patients[0]
    appointment = booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW)
    assert appointment.state is AppointmentState.HELD
    assert appointment.hold_expires_at == NOW + timedelta(minutes=10)
    assert appointment.fee_fen == 5000
    assert booked_count(slot) == 1
    booked = pay_and_book(account, appointment.id, now=NOW + timedelta(minutes=2))
    assert booked.state is AppointmentState.BOOKED
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                OutboxMessage.template == "scheduling.booking_confirmed"
            )
        )
        >= 1
    )
    assert_slot_invariants()


def test_confirming_a_fee_bearing_hold_without_paying_is_refused(world: World, slot: Slot) -> None:
    account, patient = world.accounts[0], world.patients[0]
    appointment = booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW)
    with pytest.raises(Conflict) as caught:
        booking.confirm(appointment.id, actor=account, now=NOW)
    assert caught.value.code == "payment_required"
    assert db.session.get(Appointment, appointment.id).state is AppointmentState.HELD


def test_a_full_slot_refuses_the_next_hold_with_a_clear_conflict(world: World, slot: Slot) -> None:
    booking.hold(actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW)
    with pytest.raises(Conflict) as caught:
        booking.hold(
            actor=world.accounts[1], patient_id=world.patients[1].id, slot_id=slot.id, now=NOW
        )
    assert caught.value.code == "slot_full"
    with force_locale("en"):
        assert str(caught.value.message) == "This slot was just taken. Pick another time."
    with force_locale("zh"):
        assert str(caught.value.message) == "该号源刚刚被约走，请选择其他时间。"


def test_a_lapsed_hold_frees_the_slot_without_the_job(world: World, slot: Slot) -> None:
    first = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    later = NOW + timedelta(minutes=10)
    (shown,) = [
        s
        for s in availability.search_availability(
            world.hospital.id, first_date=slot.local_date, last_date=slot.local_date, now=later
        )
        if s.slot_id == slot.id
    ]
    assert shown.remaining == 1 and shown.bookable
    second = booking.hold(
        actor=world.accounts[1], patient_id=world.patients[1].id, slot_id=slot.id, now=later
    )
    db.session.refresh(first)
    assert first.state is AppointmentState.EXPIRED
    assert second.state is AppointmentState.HELD
    assert booked_count(slot) == 1
    # The job finds nothing left to release: the place was given back exactly once.
    assert places.release_expired_holds(now=later) == 0
    assert_slot_invariants()


def test_the_job_releases_a_lapsed_hold_exactly_once(world: World, slot: Slot) -> None:
    released: list[dict[str, Any]] = []

    def receiver(sender: Any, **kw: Any) -> None:
        released.append(kw)

    booking.hold(actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW)
    with events.appointment_cancelled.connected_to(receiver):
        assert places.release_expired_holds(now=NOW + timedelta(minutes=11)) == 1
        assert places.release_expired_holds(now=NOW + timedelta(minutes=12)) == 0
    assert booked_count(slot) == 0
    assert [r["reason"] for r in released] == ["expired"]
    assert_slot_invariants()


def test_confirming_a_lapsed_hold_is_refused_and_releases_it(world: World, slot: Slot) -> None:
    appointment = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    with pytest.raises(Conflict) as caught:
        booking.confirm(appointment.id, actor=world.accounts[0], now=NOW + timedelta(minutes=10))
    assert caught.value.code == "hold_expired"


def test_a_late_payment_books_while_the_place_is_still_free(world: World, slot: Slot) -> None:
    appointment = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    places.release_expired_holds(now=NOW + timedelta(minutes=11))
    results = events.order_paid.send(
        "billing",
        order_id=7,
        hospital_id=world.hospital.id,
        purpose="registration",
        reference=f"appointment:{appointment.id}",
        now=NOW + timedelta(minutes=12),
    )
    assert [r for _fn, r in results if r is not None] == [True]
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.BOOKED and appointment.order_id == 7
    assert booked_count(slot) == 1
    # A duplicate payment notification changes nothing.
    assert booking.confirm_booking(appointment.id, now=NOW + timedelta(minutes=13)) is not None
    assert booked_count(slot) == 1
    assert_slot_invariants()


def test_a_late_payment_is_refused_when_someone_else_took_the_place(
    world: World, slot: Slot
) -> None:
    appointment = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW
    )
    later = NOW + timedelta(minutes=11)
    booking.hold(
        actor=world.accounts[1], patient_id=world.patients[1].id, slot_id=slot.id, now=later
    )
    assert booking.confirm_booking(appointment.id, now=later) is None
    assert booked_count(slot) == 1
    assert_slot_invariants()


def test_cancel_then_rebook_the_same_slot(world: World, slot: Slot) -> None:
    account, patient = world.accounts[0], world.patients[0]
    appointment = booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW)
    pay_and_book(account, appointment.id, now=NOW)
    cancelled = changes.cancel(appointment.id, actor=account, now=NOW + timedelta(minutes=1))
    assert cancelled.state is AppointmentState.CANCELLED
    assert booked_count(slot) == 0
    again = booking.hold(
        actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW + timedelta(minutes=2)
    )
    assert again.id != appointment.id
    with pytest.raises(Conflict):
        changes.cancel(appointment.id, actor=account, now=NOW + timedelta(minutes=3))
    assert booked_count(slot) == 1
    assert_slot_invariants()


def test_patients_cancel_until_the_cutoff_and_staff_after_it_with_a_reason(world: World) -> None:
    session = create_clinic_session(world.clinician, capacity=2)
    slot = slots_of(session)[0]
    account, patient = world.accounts[0], world.patients[0]
    appointment = pay_and_book(
        account,
        booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW).id,
        now=NOW,
    )
    # The session is on 3 December; the cut-off is 15:00 Shanghai on 2 December (07:00 UTC).
    after_cutoff = NOW.replace(day=2, hour=7)
    with pytest.raises(Conflict) as caught:
        changes.cancel(appointment.id, actor=account, now=after_cutoff)
    assert caught.value.code == "cancellation_closed"
    with pytest.raises(InvalidInput):
        changes.cancel(appointment.id, actor=world.registrar, now=after_cutoff)
    cancelled = changes.cancel(
        appointment.id, actor=world.registrar, now=after_cutoff, reason="phoned in"
    )
    assert cancelled.state is AppointmentState.CANCELLED
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                AuditEntry.action == "scheduling.appointment_cancelled_by_staff"
            )
        )
        == 1
    )


def test_one_active_appointment_per_patient_per_session(world: World) -> None:
    session = create_clinic_session(world.clinician, capacity=3)
    first, second = slots_of(session)[:2]
    account, patient = world.accounts[0], world.patients[0]
    booking.hold(actor=account, patient_id=patient.id, slot_id=first.id, now=NOW)
    with pytest.raises(Conflict) as caught:
        booking.hold(actor=account, patient_id=patient.id, slot_id=second.id, now=NOW)
    assert caught.value.code == "already_booked_in_session"
    assert booked_count(second) == 0


def test_one_account_cannot_hoard_a_day_through_family_members(world: World) -> None:
    set_rules(world.hospital.id, max_active_per_account_per_day=2)
    account = world.accounts[0]
    family = [world.add_patient(account=account)[1] for _ in range(2)]
    sessions = [
        create_clinic_session(world.clinician, start=time(h), end=time(h + 1)) for h in (8, 9, 10)
    ]
    booking.hold(
        actor=account, patient_id=world.patients[0].id, slot_id=slots_of(sessions[0])[0].id, now=NOW
    )
    booking.hold(
        actor=account, patient_id=family[0].id, slot_id=slots_of(sessions[1])[0].id, now=NOW
    )
    with pytest.raises(Conflict) as caught:
        booking.hold(
            actor=account, patient_id=family[1].id, slot_id=slots_of(sessions[2])[0].id, now=NOW
        )
    assert caught.value.code == "account_daily_limit"
    # The registration desk is not bound by the per-account limit.
    booking.hold(
        actor=world.registrar, patient_id=family[1].id, slot_id=slots_of(sessions[2])[0].id, now=NOW
    )


def test_a_patient_has_at_most_k_appointments_a_day(world: World) -> None:
    set_rules(world.hospital.id, max_active_per_patient_per_day=1)
    sessions = [
        create_clinic_session(world.clinician, start=time(h), end=time(h + 1)) for h in (8, 9)
    ]
    account, patient = world.accounts[0], world.patients[0]
    booking.hold(actor=account, patient_id=patient.id, slot_id=slots_of(sessions[0])[0].id, now=NOW)
    with pytest.raises(Conflict) as caught:
        booking.hold(
            actor=account, patient_id=patient.id, slot_id=slots_of(sessions[1])[0].id, now=NOW
        )
    assert caught.value.code == "patient_daily_limit"
    # Once the first hold lapses it no longer counts.
    booking.hold(
        actor=account,
        patient_id=patient.id,
        slot_id=slots_of(sessions[1])[0].id,
        now=NOW + timedelta(minutes=10),
    )


@pytest.mark.parametrize(
    ("case", "error", "code"),
    [
        ("past", InvalidInput, "slot_in_past"),
        ("unreleased", InvalidInput, "not_released"),
        ("closed", InvalidInput, "booking_closed"),
        ("stranger", NotFound, "patient_not_found"),
        ("unknown_slot", NotFound, "slot_not_found"),
        ("cancelled_session", Conflict, "session_cancelled"),
    ],
)
def test_bad_holds_are_refused_and_write_nothing(
    world: World, case: str, error: type[DomainError], code: str
) -> None:
    account, patient = world.accounts[0], world.patients[0]
    today = NOW.astimezone(rules.hospital_zone(world.hospital.id)).date()
    kwargs: dict[str, Any] = {}
    if case == "past":
        kwargs = {"local_date": today - timedelta(days=1)}
    elif case == "unreleased":
        kwargs = {"release_at": NOW + timedelta(hours=1)}
    elif case == "closed":
        kwargs = {"local_date": today, "start": time(10, 15), "end": time(11)}
    session = create_clinic_session(world.clinician, **kwargs)
    slot_id = slots_of(session)[0].id
    if case == "stranger":
        patient = world.patients[1]
    if case == "unknown_slot":
        slot_id = 999_999
    if case == "cancelled_session":
        templates.cancel_session(session.id, actor=world.admin, reason="closed", now=NOW)
    with pytest.raises(error) as caught:
        booking.hold(actor=account, patient_id=patient.id, slot_id=slot_id, now=NOW)
    assert caught.value.code == code
    assert appointments() == 0
    assert all(s.booked == 0 for s in slots_of(session))


def test_reschedule_moves_the_booking_and_keeps_its_payment(world: World) -> None:
    session = create_clinic_session(world.clinician, capacity=1, fee_fen=5000)
    first, second = slots_of(session)[:2]
    account, patient = world.accounts[0], world.patients[0]
    appointment = booking.hold(actor=account, patient_id=patient.id, slot_id=first.id, now=NOW)
    booking.confirm_booking(appointment.id, now=NOW, order_id=42)
    moved = changes.reschedule(appointment.id, actor=account, new_slot_id=second.id, now=NOW)
    assert (moved.slot_id, moved.order_id, moved.reschedule_count, moved.sequence) == (
        second.id,
        42,
        1,
        1,
    )
    assert (booked_count(first), booked_count(second)) == (0, 1)
    assert_slot_invariants()


def test_reschedule_stops_at_the_limit(world: World) -> None:
    set_rules(world.hospital.id, reschedule_limit=1)
    session = create_clinic_session(world.clinician, capacity=1)
    a, b, c = slots_of(session)[:3]
    account, patient = world.accounts[0], world.patients[0]
    appointment = pay_and_book(
        account,
        booking.hold(actor=account, patient_id=patient.id, slot_id=a.id, now=NOW).id,
        now=NOW,
    )
    changes.reschedule(appointment.id, actor=account, new_slot_id=b.id, now=NOW)
    with pytest.raises(Conflict) as caught:
        changes.reschedule(appointment.id, actor=account, new_slot_id=c.id, now=NOW)
    assert caught.value.code == "reschedule_limit"


def test_reschedule_refuses_a_slot_with_another_fee(world: World) -> None:
    cheap = slots_of(create_clinic_session(world.clinician, fee_fen=1000))[0]
    dear = slots_of(
        create_clinic_session(world.clinician, fee_fen=3000, start=time(14), end=time(15))
    )[0]
    account, patient = world.accounts[0], world.patients[0]
    appointment = pay_and_book(
        account,
        booking.hold(actor=account, patient_id=patient.id, slot_id=cheap.id, now=NOW).id,
        now=NOW,
    )
    with pytest.raises(InvalidInput) as caught:
        changes.reschedule(appointment.id, actor=account, new_slot_id=dear.id, now=NOW)
    assert caught.value.code == "fee_differs"


def test_add_on_overbooks_only_explicitly_with_a_reason_and_is_audited(
    world: World, slot: Slot
) -> None:
    booking.hold(actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW)
    with pytest.raises(Forbidden):
        changes.add_on(
            actor=world.accounts[1],
            slot_id=slot.id,
            patient_id=world.patients[1].id,
            reason="x",
            now=NOW,
        )
    with pytest.raises(InvalidInput):
        changes.add_on(
            actor=world.registrar,
            slot_id=slot.id,
            patient_id=world.patients[1].id,
            reason=" ",
            now=NOW,
        )
    extra = changes.add_on(
        actor=world.registrar,
        slot_id=slot.id,
        patient_id=world.patients[1].id,
        reason="urgent follow-up",
        now=NOW,
    )
    assert extra.is_addon and extra.state is AppointmentState.BOOKED
    db.session.refresh(slot)
    assert (slot.booked, slot.capacity, slot.addon_allowance) == (2, 1, 1)
    # Patients still see the slot as full.
    with pytest.raises(Conflict):
        booking.hold(
            actor=world.accounts[2], patient_id=world.patients[2].id, slot_id=slot.id, now=NOW
        )
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(AuditEntry.action == "scheduling.add_on")
        )
        == 1
    )
    assert_slot_invariants()


def test_the_database_refuses_a_counter_above_capacity(world: World, slot: Slot) -> None:
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(sa.update(Slot).where(Slot.id == slot.id).values(booked=2))


def test_no_shows_are_marked_after_the_session_and_strikes_suspend_booking(world: World) -> None:
    set_rules(world.hospital.id, no_show_strikes=2, suspension_days=30)
    account, patient = world.accounts[0], world.patients[0]
    for day in (2, 3):
        session = create_clinic_session(world.clinician, local_date=date(2026, 12, day))
        appointment = booking.hold(
            actor=account, patient_id=patient.id, slot_id=slots_of(session)[0].id, now=NOW
        )
        booking.confirm(appointment.id, actor=account, now=NOW)
    after = NOW + timedelta(days=3)
    assert attendance.mark_no_shows(now=after) == 2
    assert attendance.mark_no_shows(now=after) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BookingSuspension)) == 1
    later_session = create_clinic_session(world.clinician, local_date=date(2026, 12, 10))
    target = slots_of(later_session)[0].id
    with pytest.raises(Forbidden) as caught:
        booking.hold(actor=account, patient_id=patient.id, slot_id=target, now=after)
    assert caught.value.code == "patient_suspended"
    with pytest.raises(InvalidInput):
        attendance.lift_suspension(patient.id, actor=world.registrar, reason="", now=after)
    attendance.lift_suspension(
        patient.id, actor=world.registrar, reason="hospital error", now=after
    )
    booking.hold(actor=account, patient_id=patient.id, slot_id=target, now=after)
    assert_slot_invariants()


def test_cancelling_a_session_cancels_its_appointments_refunds_and_notifies(world: World) -> None:
    session = create_clinic_session(world.clinician, capacity=2, fee_fen=5000)
    slot = slots_of(session)[0]
    events_seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kw: Any) -> None:
        events_seen.append(kw)

    for account, patient in zip(world.accounts[:2], world.patients[:2], strict=True):
        pay_and_book(
            account,
            booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=NOW).id,
            now=NOW,
        )
    with events.appointment_cancelled.connected_to(receiver):
        _exception, cancelled = templates.add_exception(
            world.hospital.id,
            actor=world.admin,
            kind=ExceptionKind.LEAVE,
            clinician_id=world.clinician.id,
            first_date=session.local_date,
            last_date=session.local_date,
            reason="clinician ill",
            now=NOW,
        )
    assert cancelled == 2
    assert {(e["reason"], e["refund"]) for e in events_seen} == {("hospital_cancelled", "full")}
    assert booked_count(slot) == 0
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(
                OutboxMessage.template == "scheduling.cancelled_by_hospital"
            )
        )
        >= 2
    )
    assert_slot_invariants()


def test_staff_day_list_shows_a_clinicians_day(world: World) -> None:
    session = create_clinic_session(world.clinician, capacity=2)
    slot = slots_of(session)[0]
    booking.hold(actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW)
    listed = queries.day_list(
        actor=world.registrar, clinician_id=world.clinician.id, local_date=session.local_date
    )
    assert [a.patient_id for a in listed] == [world.patients[0].id]
    with pytest.raises(Forbidden):
        queries.day_list(
            actor=world.accounts[0], clinician_id=world.clinician.id, local_date=session.local_date
        )
