"""Fixtures for kiosk API tests: a hospital with a kiosk, a clinic open now and a patient."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hospital.accounts.models import Device
from hospital.db import utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import Patient
from tests.support import factories
from tests.support.auth import fresh_request_globals
from tests.support.kiosk_factories import Clinic, create_clinic, create_kiosk


@dataclass
class KioskWorld:
    hospital: Hospital
    device: Device
    token: str
    clinic: Clinic
    patient: Patient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def kiosk_client(app: Any, client: Any) -> Iterator[Any]:
    with fresh_request_globals(app):
        yield client


@pytest.fixture
def world(
    db_session: Any, create_hospital: Any, create_account: Any, create_patient: Any
) -> KioskWorld:
    now = utcnow()
    hospital = create_hospital(timezone=factories.daytime_zone(utcnow()))
    device, token = create_kiosk(hospital, now=now)
    clinic = create_clinic(hospital, now=now)
    account = create_account(hospital)
    patient = create_patient(hospital, account=account, name="张三明", phone=account.phone)
    db_session.commit()
    return KioskWorld(hospital, device, token, clinic, patient)
