"""The booking rush through HAProxy to three instances, and the same rush against one instance.

Starts the production layout of `make cluster` itself (deploy/cluster.py: PostgreSQL, Redis,
three `hospital serve` instances, two schedulers, HAProxy) on free ports in a temporary folder,
seeds bench/booking_rush.py's hospital (one clinician's slots released at one instant and
signed-in patients), and runs booking_rush's rush twice in the same run: once against one
instance directly (no proxy; the other two idle), once through the proxy to all three. Between
the two the appointments are wiped and every slot is free again, and Redis is flushed (limits).
Everything is stopped at the end.

Prints figures; the last line is a JSON object with holds_per_s (through the proxy),
single_per_s, ratio (cluster / single), overbooked, errors_5xx, p99_ms and more. Never a timed
assertion.

    .venv/bin/python -m bench.cluster_rush [--patients 3000] [--concurrency 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.booking_rush import SECRET_KEY, SESSIONS, SLOTS_PER_SESSION, Phase, audit, rush, seed
from deploy.cluster import WEB_COUNT, Cluster, Ports


def reset(cluster: Cluster) -> None:
    """Every slot free again, no appointment (nor what hangs off one), limits forgotten."""
    engine = sa.create_engine(cluster.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE appointment CASCADE"))
        conn.execute(sa.text("UPDATE slot SET booked = 0"))
    engine.dispose()
    with socket.create_connection(("127.0.0.1", cluster.ports.redis), timeout=5) as redis:
        redis.sendall(b"FLUSHALL\r\n")
        assert redis.recv(16).startswith(b"+OK")


def figures(phase: Phase) -> dict[str, Any]:
    per_s = phase.answered / phase.elapsed if phase.elapsed else 0.0
    statuses = dict(sorted(phase.statuses.items()))
    return {
        "requests": phase.answered,
        "seconds": round(phase.elapsed, 2),
        "per_s": round(per_s, 1),
        "p50_ms": round(phase.percentile(50)),
        "p99_ms": round(phase.percentile(99)),
        "statuses": statuses,
        "errors_5xx": sum(n for status, n in statuses.items() if status >= 500),
        "throttled_429_503": statuses.get(429, 0) + statuses.get(503, 0),
        "transport_errors": phase.transport_errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8, help="request threads per instance")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="cluster-rush-"))
    os.chmod(base, 0o755)  # PostgreSQL and Redis run as their own users when we are root
    cluster = Cluster(
        base,
        Ports.free(),
        workers=1,
        threads=args.threads,
        extra_env={
            "HOSPITAL_SECRET_KEY": SECRET_KEY,
            "HOSPITAL_SIGN_IN_RATE_LIMIT": "100000 per minute",
        },
    )
    checked: dict[str, dict[str, int]] = {}
    try:
        print(f"starting the cluster under {base} ...", flush=True)
        cluster.start()
        places = SESSIONS * SLOTS_PER_SESSION
        print(f"seeding {args.patients} patients and {places} places ...", flush=True)
        info = seed(cluster.database_url, args.patients)
        single_port = cluster.ports.web[0]
        single, _ = asyncio.run(rush(single_port, info, args.concurrency))
        checked["single"] = audit(cluster.database_url)
        reset(cluster)
        holds, refreshes = asyncio.run(rush(cluster.ports.proxy, info, args.concurrency))
        checked["cluster"] = audit(cluster.database_url)
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    one, many = figures(single), figures(holds)
    print(f"one instance, direct:     {one}")
    print(f"{WEB_COUNT} instances via HAProxy: {many}")
    print(f"database after each: {checked}; availability refreshes {refreshes}")
    result = {
        "patients": args.patients,
        "places": info["slots"],
        "concurrency": args.concurrency,
        "holds_per_s": many["per_s"],
        "single_per_s": one["per_s"],
        "ratio": round(many["per_s"] / one["per_s"], 2) if one["per_s"] else 0.0,
        "overbooked": checked["cluster"]["overbooked"] + checked["single"]["overbooked"],
        "errors_5xx": many["errors_5xx"] + one["errors_5xx"],
        "transport_errors": many["transport_errors"] + one["transport_errors"],
        "throttled_429_503": many["throttled_429_503"],
        "p50_ms": many["p50_ms"],
        "p99_ms": many["p99_ms"],
        "single_p99_ms": one["p99_ms"],
        "held": many["statuses"].get(201, 0),
        "single_held": one["statuses"].get(201, 0),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
