"""`hospital seed-demo` builds the demo hospital once; running it again adds nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from hospital.accounts.guards import device_for_token
from hospital.accounts.models import Account, DeviceKind
from hospital.accounts.passwords import verify_password
from hospital.db import db
from hospital.organisation.models import Clinician, Department, Hospital, ServicePoint
from hospital.patients.identity import parse_resident_id
from hospital.patients.models import FamilyLink, IdentityType, Patient

LOGINS = ("13800000001", "13800000002", "registrar", "nurse", "doctor", "cashier", "lab", "admin")


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def seed(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_seeding_twice_adds_nothing_the_second_time(app: Flask, committed: Any) -> None:
    first_output = seed(app)
    with app.app_context():
        after_first = row_counts()

    second_output = seed(app)

    with app.app_context():
        assert row_counts() == after_first
    # Two patient accounts acting for four people (the rest are the desk's walk-in bookings).
    assert after_first["hospital"] == 1 and after_first["family_link"] == 4
    assert after_first["clinic_session"] > 0 and after_first["appointment"] > 0
    assert after_first["queue_counter"] >= after_first["service_point"] > 0
    assert after_first["service_queue"] > 0
    for login in LOGINS:
        assert login in first_output
    assert "demo1234" in first_output and "/api/docs" in first_output
    assert "demo-kiosk-token" in first_output and "demo-board-token" in first_output
    assert second_output == first_output


def test_the_demo_hospital_has_what_the_readme_promises(app: Flask, committed: Any) -> None:
    seed(app)
    with app.app_context():
        hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == "DEMO"))
        assert (hospital.name_zh, hospital.name_en, hospital.timezone) == (
            "演示人民医院",
            "Demo People's Hospital",
            "Asia/Shanghai",
        )
        departments = {d.name_zh: d for d in db.session.scalars(sa.select(Department))}
        for name in ("内科", "儿科", "妇产科", "眼科", "皮肤科", "检验科", "外科"):
            assert departments[name].pinyin_initials
        assert departments["妇产科"].pinyin_initials == "fck"
        clinicians = db.session.scalars(sa.select(Clinician)).all()
        assert len(clinicians) >= 20
        assert all(c.name_zh and c.name_en for c in clinicians)
        assert len({c.department_id for c in clinicians}) == len(departments)
        kinds = {p.kind.value for p in db.session.scalars(sa.select(ServicePoint))}
        assert kinds == {
            "consultation_room",
            "registration_desk",
            "cashier",
            "lab_draw",
            "pharmacy",
            "imaging",
        }
        assert all(
            p.directions_zh and p.directions_en and p.floor and p.room
            for p in db.session.scalars(sa.select(ServicePoint))
        )

        accounts = {a.username or a.phone: a for a in db.session.scalars(sa.select(Account)).all()}
        for login in LOGINS:
            assert verify_password(accounts[login].password_hash, "demo1234"), login
        assert {r.value for r in accounts["doctor"].roles} == {"clinician"}
        assert db.session.scalar(
            sa.select(Clinician).where(Clinician.account_id == accounts["doctor"].id)
        )

        daughter_links = db.session.scalars(
            sa.select(FamilyLink).where(FamilyLink.account_id == accounts["13800000001"].id)
        ).all()
        assert sorted(link.relationship.value for link in daughter_links) == [
            "child",
            "parent",
            "self",
        ]
        father = next(link.patient for link in daughter_links if link.relationship == "parent")
        assert father.phone is None and father.birth_date.year == 1948
        for patient in db.session.scalars(
            sa.select(Patient).where(Patient.id_type == IdentityType.RESIDENT_ID)
        ):
            resident = parse_resident_id(patient.id_number)
            assert resident.birth_date == patient.birth_date
            assert resident.sex == patient.sex.value
        assert all(p.medical_record_number for p in db.session.scalars(sa.select(Patient)))

        assert device_for_token("demo-kiosk-token").kind is DeviceKind.KIOSK
        assert device_for_token("demo-board-token").kind is DeviceKind.DISPLAY_BOARD

        # The emergency clinic works around the clock: whatever the hour, a session is on now.
        from datetime import datetime, time
        from zoneinfo import ZoneInfo

        from scheduling.models import ClinicSession

        local = datetime.now(ZoneInfo(hospital.timezone))
        emergency = departments["急诊发热门诊"]
        on_now = db.session.scalars(
            sa.select(ClinicSession).where(
                ClinicSession.department_id == emergency.id,
                ClinicSession.local_date == local.date(),
                ClinicSession.start_time <= local.time(),
            )
        ).all()
        last_minute = time(23, 59)  # the day's last shift ends at 23:59
        assert any(s.end_time > local.time() or s.end_time == last_minute for s in on_now)
        assert all(s.service_point_id for s in on_now)

        # A walk-in ticket at the kiosk costs the general registration fee.
        from hospital.billing.services.orders import registration_fee_fen

        assert registration_fee_fen(hospital.id, "general") == 1000

        # The statistics page has a past month of wait-range accuracy to show (issue 17).
        from datetime import timedelta

        from hospital.db import utcnow
        from reports.wait_accuracy import wait_accuracy

        today = utcnow().date()
        figures = wait_accuracy(
            hospital, start=today - timedelta(days=30), end=today, language="en"
        )
        assert len({row.day for row in figures.rows}) >= 20
        assert figures.hours == list(range(8, 17)) and 0.7 < figures.coverage < 0.85

        # ... and staff productivity, the hour-of-day heatmap and satisfaction (issue 17).
        from reports.productivity import queue_heatmap, staff_productivity
        from reports.satisfaction import satisfaction

        month = {"start": today - timedelta(days=30), "end": today, "language": "en"}
        staff_rows = staff_productivity(hospital, **month)
        assert staff_rows and all(r.staff for r in staff_rows)
        assert any(r.pauses for r in staff_rows) and all(r.calls for r in staff_rows)
        assert all(r.walk_minutes and r.service_minutes for r in staff_rows)
        heat = queue_heatmap(hospital, **month)
        assert heat.hours == list(range(8, 17)) and heat.rows
        liked = satisfaction(hospital, **month)
        assert liked.answers > 50 and liked.rows and liked.comments
