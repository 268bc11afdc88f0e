"""Operations statistics on a year of a 2,000-visits-a-day hospital, on PostgreSQL.

Starts a throwaway PostgreSQL (tests/support/postgres_cluster.py), creates the schema, and
generates in SQL one year of visits (2,000 a day over 12 departments and 80 clinicians, with
bookings, cancellations, no-shows, check-in, call and service times), one payment per served
visit, and 300 reports picked up online a day. It then runs the statistics page's queries
(reports.stats.operations) for a 90-day range, per day, per department and per clinician.

Prints figures; the last line is a JSON object with p50_ms (per day, the page's default).
Never a timed assertion.

    .venv/bin/python -m bench.stats [--runs 15] [--visits-per-day 2000] [--days 365]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST_DAY = date(2025, 12, 1)

GENERATE_VISITS = """
INSERT INTO report_visit_summary (hospital_id, appointment_id, ticket_id, service_date,
    department_id, clinician_id, booked, booked_online, cancelled, no_show, checked_in_at,
    called_at, started_at, completed_at, wait_seconds, service_seconds)
SELECT :hospital_id, n, CASE WHEN fate >= 0.12 THEN n END, day,
    :first_department + (n % 12), :first_clinician + (n % 80),
    true, (n % 10) < 7, fate < 0.08, fate >= 0.08 AND fate < 0.12,
    CASE WHEN fate >= 0.12 THEN checkin END,
    CASE WHEN fate >= 0.12 THEN checkin + wait * interval '1 second' END,
    CASE WHEN fate >= 0.12 THEN checkin + wait * interval '1 second' END,
    CASE WHEN fate >= 0.12 THEN checkin + (wait + service) * interval '1 second' END,
    CASE WHEN fate >= 0.12 THEN wait END,
    CASE WHEN fate >= 0.12 THEN service END
FROM (
    SELECT n, day, fate,
        (day::timestamp + interval '8 hours' + ((n * 37) % 540) * interval '1 minute')
            AT TIME ZONE 'Asia/Shanghai' AS checkin,
        60 + ((n::bigint * 7919) % 3600) AS wait,
        180 + ((n::bigint * 104729) % 900) AS service
    FROM (
        SELECT n, (CAST(:first_day AS date) + (n / :per_day)) AS day, ((n::bigint * 2654435761) % 1000) / 1000.0 AS fate
        FROM generate_series(0, :total - 1) AS n
    ) AS base
) AS visits
"""

GENERATE_PAYMENTS = """
INSERT INTO report_payment_summary (hospital_id, order_id, service_date, department_id,
    clinician_id, amount_fen, refunded_fen, online)
SELECT hospital_id, appointment_id, service_date, department_id, clinician_id,
    5000 + (appointment_id % 20) * 1000, CASE WHEN appointment_id % 50 = 0 THEN 2000 ELSE 0 END,
    booked_online
FROM report_visit_summary WHERE checked_in_at IS NOT NULL
"""

GENERATE_PICKUPS = """
INSERT INTO lab_report (hospital_id, public_id, report_number, patient_id, test_code, test_name,
    order_reference, source, status, release_rule, current_version, released_version,
    received_at, released_at, first_viewed_at, viewed_at)
SELECT :hospital_id, 'bench' || n, 'B' || n, :patient_id, 'CBC', '血常规', '', 'staff', 'viewed',
    'immediate', 1, 1, at, at, at + interval '2 hours', at + interval '2 hours'
FROM (
    SELECT n, (CAST(:first_day AS date) + (n / :per_day))::timestamp AT TIME ZONE 'Asia/Shanghai'
        + interval '9 hours' + (n % 480) * interval '1 minute' AS at
    FROM generate_series(0, :total - 1) AS n
) AS reports
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--visits-per-day", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--range-days", type=int, default=90)
    options = parser.parse_args()

    import sqlalchemy as sa

    from hospital.app import create_app
    from hospital.db import db
    from reports import stats
    from tests.support import factories
    from tests.support.postgres_cluster import PostgresCluster

    cluster = PostgresCluster()
    try:
        url = cluster.start("hospital_stats_bench")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
        with app.app_context():
            db.create_all()
            hospital = factories.create_hospital()
            departments = [
                factories.create_department(
                    hospital, code=f"D{i}", name_zh=f"科室{i}", name_en=f"Dept {i}"
                )
                for i in range(12)
            ]
            clinicians = [
                factories.create_clinician(
                    departments[i % 12], name_zh=f"医生{i}", name_en=f"Dr {i}"
                )
                for i in range(80)
            ]
            patient = factories.create_patient(hospital)
            db.session.commit()
            total = options.visits_per_day * options.days
            started = time.perf_counter()
            params = {
                "hospital_id": hospital.id,
                "first_department": departments[0].id,
                "first_clinician": clinicians[0].id,
                "first_day": FIRST_DAY.isoformat(),
                "per_day": options.visits_per_day,
                "total": total,
            }
            db.session.execute(sa.text(GENERATE_VISITS), params)
            db.session.execute(sa.text(GENERATE_PAYMENTS))
            db.session.execute(
                sa.text(GENERATE_PICKUPS),
                {
                    "hospital_id": hospital.id,
                    "patient_id": patient.id,
                    "first_day": FIRST_DAY.isoformat(),
                    "per_day": 300,
                    "total": 300 * options.days,
                },
            )
            db.session.commit()
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    sa.text("VACUUM ANALYZE")
                )
            counts = {
                table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                for table in ("report_visit_summary", "report_payment_summary", "lab_report")
            }
            print(f"generated {counts} in {time.perf_counter() - started:.1f} s")

            end = FIRST_DAY + timedelta(days=options.days - 1)
            start = end - timedelta(days=options.range_days - 1)
            figures = {}
            for group_by in stats.GroupBy:
                stats.operations(hospital, start=start, end=end, group_by=group_by)  # warm
                times = []
                for _ in range(options.runs):
                    t0 = time.perf_counter()
                    table = stats.operations(hospital, start=start, end=end, group_by=group_by)
                    times.append((time.perf_counter() - t0) * 1000)
                    db.session.rollback()
                figures[group_by.value] = statistics.median(times)
                print(
                    f"per {group_by.value}: {len(table.rows)} rows, p50 {figures[group_by.value]:.1f} ms, "
                    f"max {max(times):.1f} ms; total booked {table.total.booked}, "
                    f"wait p50 {table.total.wait_p50_min} min, queues avoided {table.total.queues_avoided}"
                )
    finally:
        cluster.stop()
    print(
        json.dumps(
            {
                "p50_ms": round(figures["day"], 1),
                "p50_department_ms": round(figures["department"], 1),
                "p50_clinician_ms": round(figures["clinician"], 1),
                "visits": counts["report_visit_summary"],
                "range_days": options.range_days,
            }
        )
    )


if __name__ == "__main__":
    main()
