"""Time the availability search for a department of 30 clinicians over 14 days.

Starts a throwaway PostgreSQL (tests/support/postgres_cluster.py), materialises two weeks of
morning and afternoon sessions for 30 clinicians from weekly templates (about 9,600 slots),
books a share of them and leaves some holds lapsed (so the read-time expiry is exercised), then
times the department search a patient runs first (which clinician has places on which day:
one query grouped by session) and, for comparison, the list of every slot of the department;
each as the service call and as the whole HTTP request through the app (query plus JSON).
Prints figures; the last line is a JSON object whose `p50_ms` is the department search.

    .venv/bin/python -m bench.availability [--runs 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLINICIANS = 30
DAYS = 14


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()

    import sqlalchemy as sa

    from hospital.accounts.models import Account, AccountRole, Role
    from hospital.app import create_app
    from hospital.db import db
    from hospital.organisation.models import Clinician, ClinicianTitle, Department, Hospital
    from scheduling.models import Appointment, AppointmentState, FeeClass, Slot
    from scheduling.services import availability, materialise, rules, templates
    from tests.support.postgres_cluster import PostgresCluster

    cluster = PostgresCluster(max_connections=50)
    try:
        url = cluster.start("hospital_availability")
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40, "LOG_LEVEL": "WARNING"}
        )
        now = datetime.now(UTC)
        with app.app_context():
            db.create_all()
            hospital = Hospital(
                code="BENCH", name_zh="压测医院", name_en="Bench Hospital", timezone="Asia/Shanghai"
            )
            db.session.add(hospital)
            db.session.flush()
            department = Department(
                hospital_id=hospital.id,
                code="NK",
                name_zh="内科",
                name_en="Internal Medicine",
                pinyin_initials="nk",
            )
            other = Department(
                hospital_id=hospital.id,
                code="WK",
                name_zh="外科",
                name_en="Surgery",
                pinyin_initials="wk",
            )
            db.session.add_all([department, other])
            db.session.flush()
            admin = Account(hospital_id=hospital.id, username="admin", display_name="Admin")
            admin.role_rows = [AccountRole(role=Role.ADMIN, hospital_id=hospital.id)]
            db.session.add(admin)
            db.session.flush()
            for n in range(CLINICIANS * 2):
                dept = department if n < CLINICIANS else other
                clinician = Clinician(
                    hospital_id=hospital.id,
                    department_id=dept.id,
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
                                "department_id": dept.id,
                                "clinician_id": clinician.id,
                                "weekday": weekday,
                                "start_time": start,
                                "end_time": end,
                                "slot_minutes": 15,
                                "capacity": 2,
                                "fee_class": FeeClass.GENERAL if n % 3 else FeeClass.EXPERT,
                                "fee_fen": 1000 if n % 3 else 5000,
                                "booking_opens_days": DAYS,
                                "valid_from": date(2020, 1, 1),
                            },
                            actor=admin,
                            now=now,
                        )
            db.session.commit()
            started = time.perf_counter()
            sessions = materialise.materialise_slots(now=now)
            db.session.commit()
            materialise_s = time.perf_counter() - started
            slot_rows = db.session.execute(
                sa.select(Slot.id, Slot.session_id, Slot.local_date, Slot.hospital_id)
            ).all()
            # Fill about a third of the places; a few holds are left lapsed.
            from hospital.patients.models import IdentityType, Patient, Sex

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
            appointments = []
            for i, (slot_id, session_id, day, hid) in enumerate(slot_rows):
                if i % 3:
                    continue
                lapsed = i % 27 == 0
                appointments.append(
                    {
                        "hospital_id": hid,
                        "slot_id": slot_id,
                        "session_id": session_id,
                        "local_date": day,
                        "patient_id": patient.id,
                        "account_id": admin.id,
                        "state": AppointmentState.HELD if lapsed else AppointmentState.BOOKED,
                        "fee_class": FeeClass.GENERAL,
                        "fee_fen": 0,
                        "hold_expires_at": now - timedelta(minutes=1) if lapsed else None,
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
            db.session.execute(sa.insert(Appointment), appointments)
            db.session.execute(
                sa.text(
                    "UPDATE slot SET booked = (SELECT count(*) FROM appointment a "
                    "WHERE a.slot_id = slot.id)"
                )
            )
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
            today = now.astimezone(rules.hospital_zone(hospital.id)).date()
            last = today + timedelta(days=DAYS - 1)
            department_id = department.id

            timings: list[float] = []
            found = 0
            for _ in range(args.runs):
                began = time.perf_counter()
                found = len(
                    availability.search_availability(
                        hospital.id,
                        first_date=today,
                        last_date=last,
                        department_id=department_id,
                        now=datetime.now(UTC),
                    )
                )
                timings.append((time.perf_counter() - began) * 1000)
                db.session.rollback()
            total_slots = db.session.scalar(sa.select(sa.func.count()).select_from(Slot))

            session_timings: list[float] = []
            sessions_found = 0
            for _ in range(args.runs):
                began = time.perf_counter()
                sessions_found = len(
                    availability.search_sessions(
                        hospital.id,
                        first_date=today,
                        last_date=last,
                        department_id=department_id,
                        now=datetime.now(UTC),
                    )
                )
                session_timings.append((time.perf_counter() - began) * 1000)
                db.session.rollback()

        client = app.test_client()
        http: list[float] = []
        query = {"department_id": department_id, "from": today.isoformat(), "to": last.isoformat()}
        http_sessions: list[float] = []
        for _ in range(max(10, args.runs // 3)):
            began = time.perf_counter()
            response = client.get("/api/v1/scheduling/availability/sessions", query_string=query)
            http_sessions.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.json
            began = time.perf_counter()
            response = client.get("/api/v1/scheduling/availability", query_string=query)
            http.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.json
        with app.app_context():
            db.engine.dispose()
    finally:
        cluster.stop()

    print(
        f"materialised {sessions} sessions in {materialise_s:.2f} s; {total_slots} slots in the "
        f"hospital, {found} in the department's two weeks"
    )
    print(
        f"department search by clinician and day (service, one query, {sessions_found} sessions): "
        f"p50 {statistics.median(session_timings):.1f} ms, "
        f"p99 {percentile(session_timings, 99):.1f} ms over {len(session_timings)} runs"
    )
    print(
        f"  over HTTP (query + JSON): p50 {statistics.median(http_sessions):.1f} ms, "
        f"p99 {percentile(http_sessions, 99):.1f} ms"
    )
    print(
        f"every slot of the department (service, one query, {found} slots): "
        f"p50 {statistics.median(timings):.1f} ms, p99 {percentile(timings, 99):.1f} ms"
    )
    print(
        f"  over HTTP (query + JSON): p50 {statistics.median(http):.1f} ms, "
        f"p99 {percentile(http, 99):.1f} ms"
    )
    print(
        json.dumps(
            {
                "clinicians": CLINICIANS,
                "days": DAYS,
                "sessions_returned": sessions_found,
                "p50_ms": round(statistics.median(session_timings), 1),
                "p99_ms": round(percentile(session_timings, 99), 1),
                "http_p50_ms": round(statistics.median(http_sessions), 1),
                "slots_returned": found,
                "slots_p50_ms": round(statistics.median(timings), 1),
                "slots_http_p50_ms": round(statistics.median(http), 1),
                "materialise_s": round(materialise_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
