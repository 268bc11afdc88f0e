"""50 counters calling and 20 kiosks issuing at once through the HTTP server, on PostgreSQL.

Three phases against one server, in one run:

1. closed loop: 20 kiosks issue and 50 counters call-next and complete, each device sending its
   next request as soon as the last is answered; ten of the counters also serve a second
   service point's queue (longest wait first), so multi-queue calling is in the mix;
2. baseline: the same 70 clients, each repeating the app's authenticated one-row ORM insert
   (a nurse adds a counter: sign-in check, one read, one insert, commit) as fast as answered,
   half of it just before the closed loop and half just after (a drifting load cancels);
3. open loop: requests arrive at a fixed 25 per second (a large hospital's morning compressed
   tenfold: issue, call-next, complete), whatever the answers' speed; latency is measured
   from the moment each request was due, so a server that falls behind shows it.

Prints operations per second, latency percentiles, duplicates (a ticket called to two counters)
and lost tickets (issued but never served, or a gap in a queue's numbers). Last line: JSON with
at least ops_per_s, baseline_per_s, ratio, open_p50_ms, open_p99_ms, duplicates, lost.
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
from queueing.models import CallRule  # noqa: E402
from queueing.services import counters as counter_service  # noqa: E402
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
            # The first counter of each point also serves the next point's queue.
            for i in range(len(site_points)):
                first = counters[i * counters_per_point]
                counter_service.assign_queues(
                    actor=None,
                    hospital_id=hospital.id,
                    counter_id=first.id,
                    service_point_ids=[site_points[(i + 1) % len(site_points)].id],
                    rule=CallRule.LONGEST_WAIT,
                )
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
            # The baseline runs half before and half after the closed loop: on a shared machine
            # whose load drifts during a run, the two halves cancel the drift to first order.
            before = baseline(base, site, seconds=BASELINE_HALF, tag="a")
            result = run(base, site)
            result.update(audit(url))
            after = baseline(base, site, seconds=BASELINE_HALF, tag="z")
            done = before["baseline_done"] + after["baseline_done"]
            elapsed = before["baseline_seconds"] + after["baseline_seconds"]
            result.update(
                baseline_per_s=round(done / elapsed, 1),
                baseline_before_per_s=round(
                    before["baseline_done"] / before["baseline_seconds"], 1
                ),
                baseline_after_per_s=round(after["baseline_done"] / after["baseline_seconds"], 1),
                baseline_errors=before["baseline_errors"] + after["baseline_errors"],
            )
            result.update(open_loop(base, site))
        result["ratio"] = (
            round(result["ops_per_s"] / result["baseline_per_s"], 3)
            if result["baseline_per_s"]
            else 0.0
        )
    finally:
        cluster.stop()
    print(
        f"{result['ops']} operations in {result['seconds']:.1f} s: {result['ops_per_s']:.0f} ops/s; "
        f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms; "
        f"issued {result['issued']}, served {result['served']}, "
        f"duplicates {result['duplicates']}, lost {result['lost']}, errors {result['errors']}"
    )
    print(
        f"baseline (one-row insert, same {KIOSKS + len(site.counter_ids)} clients): "
        f"{result['baseline_per_s']:.0f}/s; ratio {result['ratio']:.2f}"
    )
    print(
        f"open loop at {OPEN_RATE:.0f} req/s: {result['open_ops']} requests, "
        f"p50 {result['open_p50_ms']:.0f} ms, p99 {result['open_p99_ms']:.0f} ms, "
        f"errors {result['open_errors']}"
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


def _nurse_session(base: str, site: Site) -> requests.Session:
    session = requests.Session()
    signed = requests.post(
        base + "/api/v1/auth/password",
        json={"login": site.nurse_login, "password": NURSE_PASSWORD},
        timeout=60,
    )
    signed.raise_for_status()
    session.cookies.update(signed.cookies)
    return session


def baseline(base: str, site: Site, *, seconds: float, tag: str) -> dict:
    """The same number of clients, each adding a counter (one authenticated ORM insert) in a
    closed loop, for `seconds` (at least 5 s); `tag` keeps the counters' codes apart."""
    clients = KIOSKS + len(site.counter_ids)
    cookies = _nurse_session(base, site).cookies
    done = 0
    errors = 0
    lock = threading.Lock()
    stop_at = time.perf_counter() + max(seconds, 5.0)
    start = threading.Event()

    def client(n: int) -> None:
        nonlocal done, errors
        session = requests.Session()
        session.cookies.update(cookies)
        start.wait()
        i = 0
        while time.perf_counter() < stop_at:
            i += 1
            r = session.post(
                base + "/api/v1/queueing/counters",
                json={
                    "service_point_id": site.point_ids[n % len(site.point_ids)],
                    "code": f"{tag}{n}-{i}",
                },
                timeout=60,
            )
            with lock:
                if r.status_code == 201:
                    done += 1
                else:
                    errors += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    began = time.perf_counter()
    start.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {"baseline_done": done, "baseline_seconds": elapsed, "baseline_errors": errors}


OPEN_RATE = float(os.environ.get("BENCH_OPEN_RATE", "25"))
# Each half of the baseline (before and after the closed loop); the closed loop takes 15-30 s.
BASELINE_HALF = float(os.environ.get("BENCH_BASELINE_HALF", "12"))
OPEN_SECONDS = float(os.environ.get("BENCH_OPEN_SECONDS", "20"))


def open_loop(base: str, site: Site) -> dict:
    """Requests due at a fixed rate (issue, call-next, complete in turn over the counters);
    each one's latency counts from when it was due."""
    cookies = _nurse_session(base, site).cookies
    total = int(OPEN_RATE * OPEN_SECONDS)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    began = time.perf_counter() + 0.5
    plan = []
    for n in range(total):
        step, round_ = n % 3, n // 3
        counter_id = site.counter_ids[round_ % len(site.counter_ids)]
        point = site.point_ids[round_ % len(site.point_ids)]
        if step == 0:
            plan.append(("kiosk", "/api/v1/queueing/tickets", {"service_point_id": point}))
        elif step == 1:
            plan.append(("nurse", f"/api/v1/queueing/counters/{counter_id}/call-next", {}))
        else:
            plan.append(("nurse", f"/api/v1/queueing/counters/{counter_id}/complete", {}))
    next_index = 0

    def sender() -> None:
        nonlocal next_index
        kiosk = requests.Session()
        kiosk.headers["Authorization"] = f"Bearer {site.kiosk_token}"
        nurse = requests.Session()
        nurse.cookies.update(cookies)
        while True:
            with lock:
                if next_index >= total:
                    return
                index = next_index
                next_index += 1
            due = began + index / OPEN_RATE
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # waiting for the request's arrival time (the load's shape)
            who, path, body = plan[index]
            session = kiosk if who == "kiosk" else nurse
            try:
                r = session.post(base + path, json=body, timeout=60)
                status = r.status_code
            except requests.RequestException as exc:
                status = 0
                with lock:
                    errors.append(repr(exc)[:120])
            elapsed = (time.perf_counter() - due) * 1000
            with lock:
                latencies.append(elapsed)
                # A complete with nothing called (the counter found nobody) is a 409, not a fault.
                if status >= 500 or status == 0:
                    errors.append(f"{path} {status}")

    threads = [threading.Thread(target=sender) for _ in range(KIOSKS + len(site.counter_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "open_rate_per_s": OPEN_RATE,
        "open_ops": len(latencies),
        "open_p50_ms": round(percentile(latencies, 50), 1),
        "open_p99_ms": round(percentile(latencies, 99), 1),
        "open_errors": len(errors),
        "open_error_samples": errors[:5],
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
