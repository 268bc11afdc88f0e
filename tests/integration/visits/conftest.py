"""A hospital with a clinic open now (in a zone where it is daytime), a patient and a counter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from hospital.accounts.models import Account, Role
from hospital.db import utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import Patient
from queueing.models import Counter
from scheduling.models import Slot
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.kiosk_factories import Clinic, create_clinic
from tests.support.scheduling_factories import slots_of


@dataclass
class Clinicday:
    hospital: Hospital
    clinic: Clinic
    counter: Counter
    account: Account
    patient: Patient
    nurse: Account
    now: datetime

    def bookable_slot(self) -> Slot:
        return next(s for s in slots_of(self.clinic.session) if s.closes_at > self.now)


@pytest.fixture
def day(db_session: Any) -> Clinicday:
    now = utcnow()
    hospital = factories.create_hospital(timezone=factories.daytime_zone(now))
    clinic = create_clinic(hospital, now=now)
    clinic.point.building = "2"
    clinic.point.floor = "3"
    clinic.point.room = "201"
    qf.open_queue(clinic.point, now=now)
    counter = qf.create_counter(clinic.point)
    account = factories.create_account(hospital)
    patient = factories.create_patient(hospital, account=account, phone=account.phone)
    nurse = factories.create_account(hospital, roles=(Role.NURSE,))
    db_session.flush()
    return Clinicday(hospital, clinic, counter, account, patient, nurse, now)
