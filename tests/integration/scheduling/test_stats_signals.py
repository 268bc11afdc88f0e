"""Scheduling tells the statistics when a booking is made and when a patient does not come."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from blinker import Signal

from hospital import events
from scheduling.services import attendance, booking
from tests.integration.scheduling.conftest import World
from tests.support.scheduling_factories import NOW, create_clinic_session, slots_of


@contextmanager
def received(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def receiver(_sender: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    signal.connect(receiver)
    try:
        yield calls
    finally:
        signal.disconnect(receiver)


def test_a_confirmed_booking_is_announced_once_as_online(world: World) -> None:
    account, patient = world.accounts[0], world.patients[0]
    session = create_clinic_session(world.clinician, local_date=date(2026, 12, 2))
    with received(events.appointment_booked) as calls:
        appointment = booking.hold(
            actor=account, patient_id=patient.id, slot_id=slots_of(session)[0].id, now=NOW
        )
        booking.confirm(appointment.id, actor=account, now=NOW)
        booking.confirm(
            appointment.id, actor=account, now=NOW
        )  # a repeated confirm books nothing new
    assert len(calls) == 1
    call = calls[0]
    assert call["appointment_id"] == appointment.id
    assert call["clinician_id"] == world.clinician.id
    assert call["department_id"] == session.department_id
    assert call["online"] is True and call["now"] == NOW


def test_a_no_show_is_announced_once(world: World) -> None:
    account, patient = world.accounts[0], world.patients[0]
    session = create_clinic_session(world.clinician, local_date=date(2026, 12, 2))
    appointment = booking.hold(
        actor=account, patient_id=patient.id, slot_id=slots_of(session)[0].id, now=NOW
    )
    booking.confirm(appointment.id, actor=account, now=NOW)
    after = NOW + timedelta(days=3)
    with received(events.appointment_no_show) as calls:
        attendance.mark_no_shows(now=after)
        attendance.mark_no_shows(now=after)
    assert calls == [
        {"appointment_id": appointment.id, "hospital_id": world.hospital.id, "now": after}
    ]
