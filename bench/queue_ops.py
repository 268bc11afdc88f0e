"""50 counters calling and 20 kiosks issuing at once through the HTTP server, on PostgreSQL.

Prints operations per second, latency percentiles, duplicates (a ticket called to two counters)
and lost tickets (issued but never served, or a gap in a queue's numbers). Last line: JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from hospital.accounts.models import Device, DeviceKind, Role  # noqa: E402
from hospital.app import create_app  # noqa: E402
from hospital.db import db, utcnow  # noqa: E402
from hospital.unit_of_work import unit_of_work  # noqa: E402
from tests.support import factories  # noqa: E402
from tests.support import queueing_factories as qf  # noqa: E402
from tests.support.postgres_cluster import PostgresCluster  # noqa: E402
from tests.support.queueing_factories import hospital_server  # noqa: E402

NURSE_PASSWORD = "bench-nurse-pw-1"


@dataclass
class Site:
    hospital_id: int
    point_ids: list[int]
    counter_ids: list[int] = field(default_factory=list)
    kiosk_token: str = "bench-kiosk-token-0123456789abcdef"
    nurse_login: str = "bench-nurse"


def build_site(database_url: str, *, points: int, counters_per_point: int) -> Site:
    """Create the schema and a hospital with open queues, counters, a nurse and a kiosk."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret"})
    with app.app_context():
        db.create_all()
        with unit_of_work():
            hospital = factories.create_hospital()
            site_points = [
                factories.create_service_point(hospital, room=f"{101 + i}") for i in range(points)
            ]
            counters = []
            for point in site_points:
                qf.open_queue(point, now=utcnow())
                counters += [
                    qf.create_counter(point, code=str(c + 1)) for c in range(counters_per_point)
                ]
            factories.create_account(
                hospital, roles=(Role.NURSE,), password=NURSE_PASSWORD, username="bench-nurse"
            )
            site = Site(hospital.id, [p.id for p in site_points], [c.id for c in counters])
            db.session.add(
                Device(
                    hospital_id=hospital.id,
                    kind=DeviceKind.KIOSK,
                    name="bench kiosk",
                    token_hash=hashlib.sha256(site.kiosk_token.encode()).hexdigest(),
                )
            )
        db.engine.dispose()
    return site


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


KIOSKS = 20
TICKETS_PER_KIOSK = int(os.environ.get("BENCH_TICKETS_PER_KIOSK", "50"))
POINTS = 10
COUNTERS_PER_POINT = 5
# An idle counter (nobody waiting) tries again after this long, as a console woken by its event
# stream would; a zero-wait busy loop measures only how fast empty calls can spin.
IDLE_WAIT = float(os.environ.get("BENCH_IDLE_WAIT", "0.5"))


def main() -> None:
    cluster = PostgresCluster(max_connections=300)
    url = cluster.start("bench")
    try:
        site = build_site(url, points=POINTS, counters_per_point=COUNTERS_PER_POINT)
        # `hospital serve` with its defaults (2 workers x 8 threads). More threads per worker only
        # lengthen the tail: a thread holding the queue row's lock waits for the GIL behind the
        # others (2 x 16: p99 567 ms; 2 x 8: 434-441 ms; 2 x 4: 364-461 ms on this machine).
        threads = int(os.environ.get("BENCH_THREADS", "8"))
        with hospital_server(url, workers=2, threads=threads) as base:
            result = run(base, site)
        result.update(audit(url))
    finally:
        cluster.stop()
    print(
        f"{result['ops']} operations in {result['seconds']:.1f} s: {result['ops_per_s']:.0f} ops/s; "
        f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; "
        f"issued {result['issued']}, served {result['served']}, "
        f"duplicates {result['duplicates']}, lost {result['lost']}, errors {result['errors']}"
    )
    print(json.dumps(result))


def run(base: str, site) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    called_by: dict[int, set[int]] = {}
    issued: list[int] = []
    issuing_done = threading.Event()

    def timed(session: requests.Session, path: str, body: dict) -> requests.Response | None:
        start = time.perf_counter()
        try:
            response = session.post(base + path, json=body, timeout=60)
        except requests.RequestException as exc:
            with lock:
                errors.append(f"{path} {exc!r}"[:200])
            return None
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            latencies.append(elapsed)
            if response.status_code >= 400:
                errors.append(f"{path} {response.status_code} {response.text[:120]}")
        return response

    def kiosk(k: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {site.kiosk_token}"
        for i in range(TICKETS_PER_KIOSK):
            point = site.point_ids[(k + i) % len(site.point_ids)]
            r = timed(session, "/api/v1/queueing/tickets", {"service_point_id": point})
            if r is not None and r.status_code == 201:
                with lock:
                    issued.append(r.json()["id"])

    def counter(counter_id: int) -> None:
        session = requests.Session()
        session.cookies.update(nurse_cookies)
        ready.wait()
        idle_after_done = 0
        while idle_after_done < 2:
            r = timed(session, f"/api/v1/queueing/counters/{counter_id}/call-next", {})
            ticket = r.json().get("ticket") if r is not None and r.status_code == 200 else None
            if ticket is None:
                if issuing_done.is_set():
                    idle_after_done += 1
                time.sleep(
                    IDLE_WAIT
                )  # an idle counter waits for a patient (load shape, not a race)
                continue
            with lock:
                called_by.setdefault(ticket["id"], set()).add(counter_id)
            timed(
                session,
                f"/api/v1/queueing/counters/{counter_id}/complete",
                {"ticket_id": ticket["id"]},
            )

    # One signed-in nurse session shared by every counter (sign-in hashing is not the subject).
    signed = requests.post(
        base + "/api/v1/auth/password",
        json={"login": site.nurse_login, "password": NURSE_PASSWORD},
        timeout=60,
    )
    signed.raise_for_status()
    nurse_cookies = signed.cookies
    ready = threading.Event()
    counter_threads = [threading.Thread(target=counter, args=(c,)) for c in site.counter_ids]
    for t in counter_threads:
        t.start()
    started = time.perf_counter()
    ready.set()
    kiosk_threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(KIOSKS)]
    for t in kiosk_threads:
        t.start()
    for t in kiosk_threads:
        t.join()
    issuing_done.set()
    for t in counter_threads:
        t.join()
    seconds = time.perf_counter() - started
    duplicates = sum(1 for counters in called_by.values() if len(counters) > 1)
    return {
        "ops": len(latencies),
        "seconds": round(seconds, 2),
        "ops_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "issued": len(issued),
        "called": len(called_by),
        "duplicates": duplicates,
        "errors": len(errors),
        "error_samples": errors[:5],
        "counters": len(site.counter_ids),
        "kiosks": KIOSKS,
    }


def audit(url: str) -> dict:
    """Count lost tickets from the database: not served, or missing numbers in a queue."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT queue_id, number, status FROM ticket")).all()
    engine.dispose()
    by_queue: dict[int, list[int]] = {}
    unserved = 0
    for queue_id, number, status in rows:
        by_queue.setdefault(queue_id, []).append(number)
        unserved += status != "done"
    gaps = sum(max(n) - len(n) for n in by_queue.values() if n)
    duplicates_in_numbers = sum(len(n) - len(set(n)) for n in by_queue.values())
    return {
        "served": len(rows) - unserved,
        "lost": unserved + gaps,
        "number_duplicates": duplicates_in_numbers,
    }


if __name__ == "__main__":
    main()
