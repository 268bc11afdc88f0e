"""The department the availability benchmarks search: 30 clinicians, 14 days, a third booked.

Shared by bench/availability.py and bench/fhir_find.py (run inside an app context on an empty
PostgreSQL database). Weekly templates (mornings and afternoons, 15-minute slots of two places)
are materialised for DAYS days, then a third of the places are booked with one bulk insert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

CLINICIANS = 30
DAYS = 14


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Built:
    hospital: Any
    department_id: int
    admin: Any
    sessions: int


def build(
    now: datetime, *, departments: int = 1, mixed_fees: bool = False, lapsed: bool = False
) -> Built:
    """Create the hospital; the first of `departments` is the one searched.

    mixed_fees: every third clinician is an expert at ¥50 (else all general at ¥10);
    lapsed: one booked row in 27 is a hold that lapsed a minute ago (read-time expiry).
    """
    import sqlalchemy as sa

    from hospital.accounts.models import Account, AccountRole, Role
    from hospital.db import db
    from hospital.organisation.models import Clinician, ClinicianTitle, Department, Hospital
    from hospital.patients.models import IdentityType, Patient, Sex
    from scheduling.models import Appointment, AppointmentState, FeeClass, Slot
    from scheduling.services import materialise, templates

    db.create_all()
    hospital = Hospital(
        code="BENCH", name_zh="压测医院", name_en="Bench Hospital", timezone="Asia/Shanghai"
    )
    db.session.add(hospital)
    db.session.flush()
    names = [("NK", "内科", "Internal Medicine"), ("WK", "外科", "Surgery")]
    rows = [
        Department(
            hospital_id=hospital.id,
            code=code,
            name_zh=zh,
            name_en=en,
            pinyin_initials=code.lower(),
        )
        for code, zh, en in names[:departments]
    ]
    db.session.add_all(rows)
    db.session.flush()
    admin = Account(hospital_id=hospital.id, username="admin", display_name="Admin")
    admin.role_rows = [AccountRole(role=Role.ADMIN, hospital_id=hospital.id)]
    db.session.add(admin)
    db.session.flush()
    for n in range(CLINICIANS * departments):
        department = rows[n // CLINICIANS]
        expert = mixed_fees and n % 3 == 0
        clinician = Clinician(
            hospital_id=hospital.id,
            department_id=department.id,
            name_zh=f"医生{n}",
            name_en=f"Doctor {n}",
            title=ClinicianTitle.ATTENDING_PHYSICIAN,
        )
        db.session.add(clinician)
        db.session.flush()
        for weekday in range(5):
            for start, end in ((clock(8), clock(12)), (clock(14), clock(17))):
                templates.create_template(
                    hospital.id,
                    {
                        "department_id": department.id,
                        "clinician_id": clinician.id,
                        "weekday": weekday,
                        "start_time": start,
                        "end_time": end,
                        "slot_minutes": 15,
                        "capacity": 2,
                        "fee_class": FeeClass.EXPERT if expert else FeeClass.GENERAL,
                        "fee_fen": 5000 if expert else 1000,
                        "booking_opens_days": DAYS,
                        "valid_from": date(2020, 1, 1),
                    },
                    actor=admin,
                    now=now,
                )
    db.session.commit()
    sessions = materialise.materialise_slots(now=now)
    db.session.commit()
    patient = Patient(
        hospital_id=hospital.id,
        name="患者",
        sex=Sex.MALE,
        birth_date=date(1980, 1, 1),
        id_type=IdentityType.PASSPORT,
        id_number="E0",
    )
    db.session.add(patient)
    db.session.flush()
    slots = db.session.execute(sa.select(Slot.id, Slot.session_id, Slot.local_date)).all()
    booked = []
    for i, (slot_id, session_id, day) in enumerate(slots):
        if i % 3:
            continue
        held = lapsed and i % 27 == 0
        booked.append(
            {
                "hospital_id": hospital.id,
                "slot_id": slot_id,
                "session_id": session_id,
                "local_date": day,
                "patient_id": patient.id,
                "account_id": admin.id,
                "state": AppointmentState.HELD if held else AppointmentState.BOOKED,
                "fee_class": FeeClass.GENERAL,
                "fee_fen": 0,
                "hold_expires_at": now - timedelta(minutes=1) if held else None,
                "created_at": now,
                "is_addon": False,
                "addon_reason": "",
                "reschedule_count": 0,
                "sequence": 0,
                "cancel_reason": "",
            }
        )
    # One patient may hold only one per session; these rows stand for many patients.
    db.session.execute(sa.text("DROP INDEX uq_appointment_patient_session_active"))
    db.session.execute(sa.insert(Appointment), booked)
    db.session.execute(
        sa.text(
            "UPDATE slot SET booked = (SELECT count(*) FROM appointment a WHERE a.slot_id = slot.id)"
        )
    )
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return Built(hospital=hospital, department_id=rows[0].id, admin=admin, sessions=sessions)
