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
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.department import CLINICIANS, DAYS, build, percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()

    import sqlalchemy as sa

    from hospital.app import create_app
    from hospital.db import db
    from scheduling.models import Slot
    from scheduling.services import availability, rules
    from tests.support.postgres_cluster import PostgresCluster

    cluster = PostgresCluster(max_connections=50)
    try:
        url = cluster.start("hospital_availability")
        app = create_app(
            {"DATABASE_URL": url, "SECRET_KEY": "bench-" + "k" * 40, "LOG_LEVEL": "WARNING"}
        )
        now = datetime.now(UTC)
        with app.app_context():
            started = time.perf_counter()
            built = build(now, departments=2, mixed_fees=True, lapsed=True)
            materialise_s = time.perf_counter() - started
            hospital, department_id, sessions = built.hospital, built.department_id, built.sessions
            today = now.astimezone(rules.hospital_zone(hospital.id)).date()
            last = today + timedelta(days=DAYS - 1)

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
        f"built the hospital ({sessions} sessions materialised) in {materialise_s:.2f} s; {total_slots} slots in the "
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
