"""Compare FHIR Appointment/$find with the native availability endpoint: 30 clinicians x 14 days.

Starts a throwaway PostgreSQL (tests/support/postgres_cluster.py), builds the same department
as bench/availability.py (weekly templates materialised for 14 days, a third of the places
booked), issues a FHIR system client token, then times whole HTTP requests through the app.

What it compares, like with like: the native `/api/v1/scheduling/availability` (only bookable
places) and `$find` asked for the whole answer (`_count=10000`), both answering the same free
places of the department and days (the counts are printed and checked equal). It also times
`$find` as a client calls it by default (ITI-115 potential appointments): the first page of
`_count` proposals with a `next` link. The last line is JSON with `find_p50_ms`,
`native_p50_ms` and `ratio` (the whole answers) and `find_page_p50_ms` (the default page).

    .venv/bin/python -m bench.fhir_find [--runs 40]
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


def build(now: datetime) -> tuple[int, str]:
    """The department and its booked share; returns (department id, system client token)."""
    import sqlalchemy as sa

    from hospital.accounts.models import Account, AccountRole, Role
    from hospital.db import db
    from hospital.organisation.models import Clinician, ClinicianTitle, Department, Hospital
    from hospital.patients.models import IdentityType, Patient, Sex
    from scheduling.fhir.auth import create_client
    from scheduling.models import Appointment, AppointmentState, FeeClass, Slot
    from scheduling.services import materialise, templates

    db.create_all()
    hospital = Hospital(code="BENCH", name_zh="压测医院", name_en="Bench", timezone="Asia/Shanghai")
    db.session.add(hospital)
    db.session.flush()
    department = Department(hospital_id=hospital.id, code="NK", name_zh="内科", name_en="IM")
    db.session.add(department)
    db.session.flush()
    admin = Account(hospital_id=hospital.id, username="admin", display_name="Admin")
    admin.role_rows = [AccountRole(role=Role.ADMIN, hospital_id=hospital.id)]
    db.session.add(admin)
    db.session.flush()
    for n in range(CLINICIANS):
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
                        "fee_class": FeeClass.GENERAL,
                        "fee_fen": 1000,
                        "booking_opens_days": DAYS,
                        "valid_from": date(2020, 1, 1),
                    },
                    actor=admin,
                    now=now,
                )
    db.session.commit()
    materialise.materialise_slots(now=now)
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
    rows = db.session.execute(sa.select(Slot.id, Slot.session_id, Slot.local_date)).all()
    booked = [
        {
            "hospital_id": hospital.id,
            "slot_id": slot_id,
            "session_id": session_id,
            "local_date": day,
            "patient_id": patient.id,
            "account_id": admin.id,
            "state": AppointmentState.BOOKED,
            "fee_class": FeeClass.GENERAL,
            "fee_fen": 0,
            "created_at": now,
            "is_addon": False,
            "addon_reason": "",
            "reschedule_count": 0,
            "sequence": 0,
            "cancel_reason": "",
        }
        for i, (slot_id, session_id, day) in enumerate(rows)
        if i % 3 == 0
    ]
    db.session.execute(sa.text("DROP INDEX uq_appointment_patient_session_active"))
    db.session.execute(sa.insert(Appointment), booked)
    db.session.execute(
        sa.text(
            "UPDATE slot SET booked = (SELECT count(*) FROM appointment a WHERE a.slot_id = slot.id)"
        )
    )
    db.session.execute(sa.text("ANALYZE"))
    _client, token = create_client(
        hospital, name="bench", scopes="system/Slot.rs system/Appointment.cru", now=now
    )
    db.session.commit()
    return department.id, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    from hospital.app import create_app
    from scheduling.services import rules
    from tests.support.postgres_cluster import PostgresCluster

    cluster = PostgresCluster(max_connections=50)
    try:
        url = cluster.start("hospital_fhir_find")
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40, "LOG_LEVEL": "WARNING"}
        )
        now = datetime.now(UTC)
        with app.app_context():
            department_id, token = build(now)
            from hospital.db import db
            from hospital.organisation.models import Hospital

            hospital = db.session.query(Hospital).one()
            today = now.astimezone(rules.hospital_zone(hospital.id)).date()
        last = today + timedelta(days=DAYS - 1)
        client = app.test_client()
        native_url = "/api/v1/scheduling/availability"
        native_query = {
            "from": today.isoformat(),
            "to": last.isoformat(),
            "department_id": department_id,
            "only_bookable": "true",
        }
        find_query = {
            "specialty": "NK",
            "start": today.isoformat(),
            "end": last.isoformat(),
            "_count": "10000",
        }
        headers = {"Authorization": f"Bearer {token}"}

        def timed(call: object) -> tuple[list[float], int]:
            timings, size = [], 0
            for _ in range(args.runs):
                began = time.perf_counter()
                response = call()  # type: ignore[operator]
                timings.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                body = response.json
                size = len(body) if isinstance(body, list) else len(body.get("entry", []))
            return timings, size

        native, native_n = timed(lambda: client.get(native_url, query_string=native_query))
        found, find_n = timed(
            lambda: client.get(
                "/fhir/r4/Appointment/$find", query_string=find_query, headers=headers
            )
        )
        assert find_n == native_n, (find_n, native_n)
        page_query = {k: v for k, v in find_query.items() if k != "_count"}
        first_page = client.get(
            "/fhir/r4/Appointment/$find", query_string=page_query, headers=headers
        ).json
        assert any(link["relation"] == "next" for link in first_page.get("link", []))
        paged, page_n = timed(
            lambda: client.get(
                "/fhir/r4/Appointment/$find", query_string=page_query, headers=headers
            )
        )
        native_p50, find_p50 = statistics.median(native), statistics.median(found)
        page_p50 = statistics.median(paged)
        print(
            f"native availability:    {native_n} places, "
            f"p50 {native_p50:.1f} ms, p95 {percentile(native, 95):.1f} ms"
        )
        print(
            f"$find, whole answer:    {find_n} proposals, "
            f"p50 {find_p50:.1f} ms, p95 {percentile(found, 95):.1f} ms"
        )
        print(
            f"$find, default page:    {page_n} proposals of {first_page['total']} + next link, "
            f"p50 {page_p50:.1f} ms, p95 {percentile(paged, 95):.1f} ms"
        )
        print(
            json.dumps(
                {
                    "compares": "native availability vs $find, same free places (whole answers)",
                    "clinicians": CLINICIANS,
                    "days": DAYS,
                    "native_results": native_n,
                    "find_results": find_n,
                    "native_p50_ms": round(native_p50, 2),
                    "find_p50_ms": round(find_p50, 2),
                    "ratio": round(find_p50 / native_p50, 2),
                    "find_page_results": page_n,
                    "find_page_p50_ms": round(page_p50, 2),
                }
            )
        )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
