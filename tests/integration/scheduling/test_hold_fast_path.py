"""The hold's short path: few statements on PostgreSQL, the same answers as the checked path."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from hospital.accounts.models import Account
from hospital.audit.models import AuditEntry
from hospital.billing.models import (
    ItemCategory,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderItem,
    OrderStatus,
)
from hospital.db import db
from hospital.errors import Conflict, Forbidden, InvalidInput, NotFound
from hospital.patients.models import FamilyLink
from scheduling.models import Appointment, AppointmentState, BookingSuspension, Slot
from scheduling.services import booking
from tests.integration.scheduling.conftest import World, assert_slot_invariants
from tests.support.scheduling_factories import NOW, create_clinic_session, set_rules, slots_of
from tests.support.statements import sent_statements


def booked(slot_id: int) -> int:
    return int(db.session.scalar(sa.select(Slot.booked).where(Slot.id == slot_id)))


def test_a_hold_on_postgresql_runs_two_statements_and_its_reply_needs_no_reload(
    world: World, backend: str
) -> None:
    slot = slots_of(create_clinic_session(world.clinician, capacity=2, fee_fen=5000))[0]
    account, patient = world.accounts[0], world.patients[0]
    slot_id, patient_id = slot.id, patient.id
    db.session.expunge_all()  # nothing cached: what the hold needs, it reads
    account = db.session.get(Account, account.id)
    with sent_statements() as seen:
        appointment = booking.hold(actor=account, patient_id=patient_id, slot_id=slot_id, now=NOW)
        # Everything the reply shows is there without another statement.
        shown = (
            appointment.slot.starts_at,
            appointment.slot.ends_at,
            appointment.slot.session.clinician_id,
            appointment.slot.session.department_id,
            appointment.hold_expires_at,
            appointment.fee_class,
            appointment.created_at,
        )
    if backend == "postgresql":
        # the slot with the patient's lock; the limits, the take, the insert and billing's order
        assert len(seen) == 2, seen
    assert all(value is not None for value in shown[:2] + shown[3:])
    assert appointment.state is AppointmentState.HELD
    assert appointment.hold_expires_at == NOW + timedelta(minutes=10)
    stored = db.session.execute(
        sa.select(Appointment.__table__).where(Appointment.id == appointment.id)
    ).one()
    assert stored.hold_expires_at == appointment.hold_expires_at
    assert (stored.patient_id, stored.account_id, stored.slot_id) == (
        patient_id,
        account.id,
        slot_id,
    )
    assert (stored.fee_fen, stored.fee_class) == (5000, appointment.fee_class)
    assert booked(slot_id) == 1
    order = db.session.scalar(
        sa.select(Order).where(Order.reference == f"appointment:{appointment.id}")
    )
    assert order is not None and order.total_fen == 5000
    # The order as billing writes it on its own (SQLite, the checked path): pending, for this
    # hold's time, by this account, with its item and its ledger entry.
    assert (order.status, order.self_pay_fen, order.visit_key) == (
        OrderStatus.PENDING,
        5000,
        order.reference,
    )
    assert order.expires_at == appointment.hold_expires_at
    assert (order.patient_id, order.created_by_account_id) == (patient_id, account.id)
    items = db.session.scalars(sa.select(OrderItem).where(OrderItem.order_id == order.id)).all()
    assert [(i.category, i.amount_fen, i.quantity, i.name_en) for i in items] == [
        (ItemCategory.REGISTRATION, 5000, 1, "Registration fee")
    ]
    entries = db.session.scalars(
        sa.select(LedgerEntry).where(LedgerEntry.order_id == order.id)
    ).all()
    assert [(e.kind, e.amount_fen, e.detail) for e in entries] == [
        (LedgerKind.ORDER_CREATED, 5000, {})
    ]
    assert_slot_invariants()


def _orders_by_appointment() -> dict[int, int]:
    """Registration orders per appointment id they name; every one names an appointment."""
    references = db.session.scalars(
        sa.select(Order.reference).where(Order.reference.like("appointment:%"))
    ).all()
    counted: dict[int, int] = {}
    for reference in references:
        appointment_id = int(reference.split(":")[1])
        assert db.session.get(Appointment, appointment_id) is not None, reference
        counted[appointment_id] = counted.get(appointment_id, 0) + 1
    return counted


def test_a_paid_hold_refused_by_a_limit_writes_no_order(world: World) -> None:
    set_rules(world.hospital.id, max_active_per_patient_per_day=1)
    first = slots_of(create_clinic_session(world.clinician, capacity=1, fee_fen=5000))[0]
    other = slots_of(
        create_clinic_session(
            world.clinician, capacity=1, start=time(14), end=time(17), fee_fen=5000
        )
    )[0]
    account, patient = world.accounts[0], world.patients[0]
    held = booking.hold(actor=account, patient_id=patient.id, slot_id=first.id, now=NOW)
    with pytest.raises(Conflict):
        booking.hold(actor=account, patient_id=patient.id, slot_id=other.id, now=NOW)
    assert _orders_by_appointment() == {held.id: 1}


def test_a_paid_hold_after_the_patients_own_lapsed_one_has_one_order_each(world: World) -> None:
    # On PostgreSQL the short path refuses (the lapsed hold must be released first) after its
    # first statement took an id for the hold: the ordinary path then holds with an id of its
    # own, and no order may name the id that was never used.
    slots = slots_of(create_clinic_session(world.clinician, capacity=1, fee_fen=3000))
    account, patient = world.accounts[0], world.patients[0]
    first = booking.hold(actor=account, patient_id=patient.id, slot_id=slots[0].id, now=NOW)
    later = NOW + timedelta(minutes=11)
    held = booking.hold(actor=account, patient_id=patient.id, slot_id=slots[1].id, now=later)
    assert _orders_by_appointment() == {first.id: 1, held.id: 1}
    assert_slot_invariants()


def test_the_hospitals_hold_time_and_an_offers_window_set_the_expiry(world: World) -> None:
    set_rules(world.hospital.id, hold_minutes=25)
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    first = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slots[0].id, now=NOW
    )
    assert first.hold_expires_at == NOW + timedelta(minutes=25)
    until = NOW + timedelta(hours=3)
    second = booking.hold(
        actor=world.accounts[1],
        patient_id=world.patients[1].id,
        slot_id=slots[1].id,
        now=NOW,
        hold_until=until,
    )
    assert second.hold_expires_at == until


def test_a_refused_hold_writes_nothing_and_says_which_rule(world: World) -> None:
    set_rules(world.hospital.id, max_active_per_patient_per_day=1)
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    other = slots_of(
        create_clinic_session(world.clinician, capacity=1, start=time(14), end=time(17))
    )
    account, patient = world.accounts[0], world.patients[0]
    booking.hold(actor=account, patient_id=patient.id, slot_id=slots[0].id, now=NOW)
    target = other[0]
    with pytest.raises(Conflict) as refused, force_locale("en"):
        booking.hold(actor=account, patient_id=patient.id, slot_id=target.id, now=NOW)
    assert refused.value.code == "patient_daily_limit"
    assert booked(target.id) == 0
    assert_slot_invariants()


def test_a_second_hold_in_the_session_is_refused(world: World) -> None:
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    account, patient = world.accounts[0], world.patients[0]
    booking.hold(actor=account, patient_id=patient.id, slot_id=slots[0].id, now=NOW)
    with pytest.raises(Conflict) as refused:
        booking.hold(actor=account, patient_id=patient.id, slot_id=slots[1].id, now=NOW)
    assert refused.value.code == "already_booked_in_session"
    assert booked(slots[1].id) == 0


def test_a_suspended_patient_is_refused_online_but_the_desk_may_book(world: World) -> None:
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    account, patient = world.accounts[0], world.patients[0]
    db.session.add(
        BookingSuspension(
            hospital_id=world.hospital.id,
            patient_id=patient.id,
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=30),
            strikes=3,
        )
    )
    db.session.flush()
    with pytest.raises(Forbidden) as refused:
        booking.hold(actor=account, patient_id=patient.id, slot_id=slots[0].id, now=NOW)
    assert refused.value.code == "patient_suspended"
    assert booked(slots[0].id) == 0
    held = booking.hold(actor=world.registrar, patient_id=patient.id, slot_id=slots[0].id, now=NOW)
    assert held.state is AppointmentState.HELD


def test_a_link_without_the_right_to_book_is_refused_and_audited(world: World) -> None:
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    holder, _ = world.add_patient()
    _, child = world.add_patient(account=holder)
    link = db.session.scalar(
        sa.select(FamilyLink).where(
            FamilyLink.account_id == holder.id, FamilyLink.patient_id == child.id
        )
    )
    link.can_book = False
    db.session.flush()
    with pytest.raises(NotFound):
        booking.hold(actor=holder, patient_id=child.id, slot_id=slots[0].id, now=NOW)
    denied = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "scheduling.hold", AuditEntry.outcome == "denied"
        )
    ).all()
    assert [entry.object_id for entry in denied] == [str(child.id)]
    assert booked(slots[0].id) == 0
    # a stranger's patient is refused the same way
    with pytest.raises(NotFound):
        booking.hold(
            actor=world.accounts[0], patient_id=world.patients[1].id, slot_id=slots[0].id, now=NOW
        )


def test_a_full_slot_a_closed_slot_and_another_hospitals_slot(world: World) -> None:
    slot = slots_of(create_clinic_session(world.clinician, capacity=1))[0]
    booking.hold(actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slot.id, now=NOW)
    with pytest.raises(Conflict) as refused:
        booking.hold(
            actor=world.accounts[1], patient_id=world.patients[1].id, slot_id=slot.id, now=NOW
        )
    assert refused.value.code == "slot_full"
    with pytest.raises(InvalidInput) as closed:
        booking.hold(
            actor=world.accounts[1],
            patient_id=world.patients[1].id,
            slot_id=slot.id,
            now=slot.closes_at,
        )
    assert closed.value.code == "booking_closed"
    with pytest.raises(NotFound):
        booking.hold(
            actor=world.accounts[1], patient_id=world.patients[1].id, slot_id=10**9, now=NOW
        )


def test_a_lapsed_hold_gives_its_place_to_the_next_patient(world: World) -> None:
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    first = booking.hold(
        actor=world.accounts[0], patient_id=world.patients[0].id, slot_id=slots[0].id, now=NOW
    )
    later = NOW + timedelta(minutes=11)
    second = booking.hold(
        actor=world.accounts[1], patient_id=world.patients[1].id, slot_id=slots[0].id, now=later
    )
    assert second.state is AppointmentState.HELD
    state = db.session.scalar(sa.select(Appointment.state).where(Appointment.id == first.id))
    assert state is AppointmentState.EXPIRED
    assert booked(slots[0].id) == 1
    assert_slot_invariants()


def test_a_patients_own_lapsed_hold_does_not_block_a_new_one_in_the_session(world: World) -> None:
    slots = slots_of(create_clinic_session(world.clinician, capacity=1))
    account, patient = world.accounts[0], world.patients[0]
    first = booking.hold(actor=account, patient_id=patient.id, slot_id=slots[0].id, now=NOW)
    later = NOW + timedelta(minutes=11)
    held = booking.hold(actor=account, patient_id=patient.id, slot_id=slots[1].id, now=later)
    assert held.state is AppointmentState.HELD
    state = db.session.scalar(sa.select(Appointment.state).where(Appointment.id == first.id))
    assert state is AppointmentState.EXPIRED
    assert (booked(slots[0].id), booked(slots[1].id)) == (0, 1)
    assert_slot_invariants()
