"""Setup the queueing tests share: an appointment booked in a clinic session at a service point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from hospital.organisation.models import Clinician, ServicePoint
from scheduling.models import Appointment, AppointmentState, Slot
from scheduling.services import booking
from tests.support.scheduling_factories import NOW as SCHED_NOW
from tests.support.scheduling_factories import create_clinic_session, slots_of

BookAt = Callable[[ServicePoint], tuple[Appointment, Clinician, Slot]]


@pytest.fixture
def book_at(
    hospital: Any,
    create_department: Any,
    create_clinician: Any,
    create_account: Any,
    create_patient: Any,
) -> BookAt:
    """Book a new patient into the first slot of a new clinician's session held at the point."""

    def book(point: ServicePoint) -> tuple[Appointment, Clinician, Slot]:
        clinician = create_clinician(create_department(hospital))
        session = create_clinic_session(clinician, service_point_id=point.id)
        slot = slots_of(session)[0]
        account = create_account(hospital)
        patient = create_patient(hospital, account=account, birth_date=date(1990, 1, 1))
        appointment = booking.hold(
            actor=account, patient_id=patient.id, slot_id=slot.id, now=SCHED_NOW
        )
        if appointment.state is AppointmentState.HELD:
            appointment = booking.confirm(appointment.id, actor=account, now=SCHED_NOW)
        return appointment, clinician, slot

    return book
