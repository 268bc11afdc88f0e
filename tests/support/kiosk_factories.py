"""Build kiosks, clinics and booked appointments for kiosk tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hospital.accounts.models import Device, DeviceKind
from hospital.accounts.services import devices
from hospital.db import db
from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.models import Patient
from kiosk.models import Kiosk, PrinterState
from kiosk.services import devices as kiosk_devices
from scheduling.appointment_codes import appointment_code
from scheduling.models import Appointment, AppointmentState, ClinicSession, Slot
from tests.support import factories
from tests.support.scheduling_factories import create_clinic_session


def create_kiosk(
    hospital: Hospital,
    *,
    now: datetime,
    name: str = "大厅自助机 1",
    location: str = "门诊大厅东侧 / Outpatient hall, east",
    printer_host: str = "",
    printer_port: int = 9100,
) -> tuple[Device, str]:
    """A registered kiosk device with its settings; returns the device and its token."""
    device, token = devices.register_device(
        actor=None,
        kind=DeviceKind.KIOSK,
        name=name,
        location=location,
        service_point_id=None,
        now=now,
        hospital=hospital,
    )
    kiosk = kiosk_devices.kiosk_of(device)
    kiosk.printer_host = printer_host
    kiosk.printer_port = printer_port
    kiosk.printer_state = PrinterState.UNKNOWN if printer_host else PrinterState.BROWSER
    db.session.flush()
    return device, token


@dataclass
class Clinic:
    department: Department
    clinician: Clinician
    point: ServicePoint
    session: ClinicSession


def create_clinic(
    hospital: Hospital, *, now: datetime, day_offset: int = 0, **department: Any
) -> Clinic:
    """A department with a clinician, a room and a session around `now` (local time) that day."""
    zone = ZoneInfo(hospital.timezone)
    local = now.astimezone(zone)
    department_row = factories.create_department(hospital, **department)
    clinician = factories.create_clinician(department_row)
    point = factories.create_service_point(
        hospital,
        department_id=department_row.id,
        directions_zh="出电梯右转",
        directions_en="Turn right out of the lift",
    )
    floor_minutes = local.hour * 60 + local.minute // 15 * 15
    start_minutes = max(0, floor_minutes - 60)
    end_minutes = min(23 * 60 + 45, floor_minutes + 120)
    session = create_clinic_session(
        clinician,
        local_date=local.date() + timedelta(days=day_offset),
        start=time(start_minutes // 60, start_minutes % 60),
        end=time(end_minutes // 60, end_minutes % 60),
        service_point_id=point.id,
        zone=hospital.timezone,
        release_at=now - timedelta(days=7),
    )
    return Clinic(department_row, clinician, point, session)


def book(
    clinic: Clinic,
    patient: Patient,
    *,
    now: datetime,
    state: AppointmentState = AppointmentState.BOOKED,
) -> Appointment:
    """A booked appointment in the session's slot that starts at or just before `now`."""
    slots = db.session.scalars(
        sa.select(Slot).where(Slot.session_id == clinic.session.id).order_by(Slot.starts_at)
    ).all()
    local_now = now.astimezone(ZoneInfo(clinic.department.hospital.timezone))
    target = local_now.replace(minute=local_now.minute // 15 * 15, second=0, microsecond=0)
    slot = next((s for s in slots if s.starts_at >= target), slots[-1])
    slot.booked += 1
    appointment = Appointment(
        hospital_id=patient.hospital_id,
        slot_id=slot.id,
        session_id=slot.session_id,
        local_date=slot.local_date,
        patient_id=patient.id,
        account_id=_any_account(patient),
        state=state,
        fee_class=clinic.session.fee_class,
        fee_fen=clinic.session.fee_fen,
        booked_at=now - timedelta(days=1),
        created_at=now - timedelta(days=1),
        hold_expires_at=now + timedelta(minutes=5) if state is AppointmentState.HELD else None,
    )
    db.session.add(appointment)
    db.session.flush()
    return appointment


def _any_account(patient: Patient) -> int:
    from hospital.patients.models import FamilyLink

    account_id = db.session.scalar(
        sa.select(FamilyLink.account_id).where(FamilyLink.patient_id == patient.id).limit(1)
    )
    if account_id is None:
        account_id = factories.create_account(
            db.session.get(Hospital, patient.hospital_id)  # type: ignore[arg-type]
        ).id
    return account_id


def qr_for(app: Any, appointment: Appointment) -> str:
    return appointment_code(str(app.config["SECRET_KEY"]), appointment.hospital_id, appointment.id)


def kiosk_row(device: Device) -> Kiosk:
    row = db.session.get(Kiosk, device.id)
    assert row is not None
    return row


def confirm_phone(client: Any, headers: dict[str, str], phone: str) -> str:
    """Ask the kiosk for a texted code, read it from the outbox, confirm it: the confirmation."""
    return str(verify_phone(client, headers, phone)["confirmation"])


def verify_phone(client: Any, headers: dict[str, str], phone: str) -> dict[str, Any]:
    """The kiosk's answer to a right texted code: confirmation, appointments, people."""
    from hospital.notifications.models import OutboxMessage

    sent = client.post("/api/v1/kiosk/codes", json={"phone": phone}, headers=headers)
    assert sent.status_code == 201, sent.get_json()
    body = db.session.scalar(
        sa.select(OutboxMessage.body)
        .where(OutboxMessage.recipient == phone, OutboxMessage.template == "kiosk_code")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    code = re.search(r"\b(\d{6})\b", body or "")
    assert code
    verified = client.post(
        "/api/v1/kiosk/codes/verify", json={"phone": phone, "code": code.group(1)}, headers=headers
    )
    assert verified.status_code == 200, verified.get_json()
    return dict(verified.get_json())
