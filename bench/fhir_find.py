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
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.department import CLINICIANS, DAYS, percentile  # noqa: E402
from bench.department import build as build_department  # noqa: E402


def build(now: datetime) -> tuple[int, str]:
    """The department and its booked share; returns (department id, system client token)."""
    from hospital.db import db
    from scheduling.fhir.auth import create_client

    built = build_department(now)
    _client, token = create_client(
        built.hospital, name="bench", scopes="system/Slot.rs system/Appointment.cru", now=now
    )
    db.session.commit()
    return built.department_id, token


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
