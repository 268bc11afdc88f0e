"""1,000 Server-Sent Events subscribers on one display board served by `hospital serve`.

A nurse calls the next ticket a few times; for each call we time how long it takes to reach
every subscriber. The subscribers are plain asyncio sockets (one process, no thread each), so
the client does not starve the server on this 2-core machine. Last line: JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import requests  # noqa: E402

from bench.queue_ops import NURSE_PASSWORD, build_site, percentile  # noqa: E402
from tests.support.postgres_cluster import PostgresCluster  # noqa: E402
from tests.support.queueing_factories import hospital_server  # noqa: E402

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
CALLS = int(os.environ.get("BENCH_CALLS", "5"))
DELIVERY_TIMEOUT = 10.0


class Subscriber:
    def __init__(self) -> None:
        self.seen: dict[str, float] = {}  # call_key -> monotonic time first seen
        self.connected = asyncio.Event()
        self.failed = ""

    async def run(self, host: str, port: int, path: str) -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            writer.write(
                f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            await writer.drain()
            buffer = b""
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    self.failed = self.failed or "closed"
                    return
                buffer += chunk
                while b"\n\n" in buffer:
                    frame, buffer = buffer.split(b"\n\n", 1)
                    self.on_frame(frame.decode("utf-8", "replace"))
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.failed = repr(exc)
        finally:
            self.connected.set()

    def on_frame(self, frame: str) -> None:
        if "event: snapshot" not in frame:
            return
        data = frame.split("data: ", 1)[1]
        board = json.loads(data)
        self.connected.set()
        calls = board.get("calls") or []
        if calls:
            self.seen.setdefault(calls[0]["call_key"], time.monotonic())


async def fan_out(base: str, site) -> dict:
    host, port = base.split("//", 1)[1].split(":")
    path = f"/api/v1/queueing/board/events?points={site.point_ids[0]}"
    subscribers = [Subscriber() for _ in range(SUBSCRIBERS)]
    tasks = []
    for i, sub in enumerate(subscribers):
        tasks.append(asyncio.create_task(sub.run(host, int(port), path)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # open connections in waves, as screens come up
    connect_started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in subscribers)), 120)
    connect_seconds = time.monotonic() - connect_started
    connected = sum(1 for s in subscribers if not s.failed)

    nurse = requests.Session()
    signed = await asyncio.to_thread(
        nurse.post,
        base + "/api/v1/auth/password",
        json={"login": site.nurse_login, "password": NURSE_PASSWORD},
        timeout=60,
    )
    signed.raise_for_status()
    latencies: list[float] = []
    missed = 0
    counter_id = site.counter_ids[0]
    for _ in range(CALLS):
        await asyncio.to_thread(
            nurse.post,
            f"{base}/api/v1/queueing/counters/{counter_id}/complete",
            json={},
            timeout=60,
        )
        sent = time.monotonic()
        response = await asyncio.to_thread(
            nurse.post,
            f"{base}/api/v1/queueing/counters/{counter_id}/call-next",
            json={},
            timeout=60,
        )
        ticket = response.json()["ticket"]
        key = f"{ticket['id']}-{ticket['call_count']}"
        deadline = sent + DELIVERY_TIMEOUT
        while time.monotonic() < deadline and any(
            key not in s.seen for s in subscribers if not s.failed
        ):
            await asyncio.sleep(0.01)
        for s in subscribers:
            if key in s.seen:
                latencies.append((s.seen[key] - sent) * 1000)
            else:
                missed += 1
        await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "subscribers": SUBSCRIBERS,
        "connected": connected,
        "connect_seconds": round(connect_seconds, 2),
        "calls": CALLS,
        "deliveries": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "max_ms": round(max(latencies) if latencies else 0.0, 1),
        "missed": missed,
    }


def main() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))
    cluster = PostgresCluster(max_connections=200)
    url = cluster.start("bench")
    try:
        site = build_site(url, points=1, counters_per_point=1)
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.begin() as conn:
            queue_id = conn.execute(sa.text("SELECT id FROM service_queue")).scalar_one()
        engine.dispose()
        # Tickets to call, issued through the kiosk API.
        kiosk = requests.Session()
        kiosk.headers["Authorization"] = f"Bearer {site.kiosk_token}"
        with hospital_server(url, workers=2, threads=8) as base:
            for _ in range(CALLS + 5):
                kiosk.post(
                    base + "/api/v1/queueing/tickets",
                    json={"service_point_id": site.point_ids[0]},
                    timeout=30,
                ).raise_for_status()
            result = asyncio.run(fan_out(base, site))
        result["queue_id"] = queue_id
    finally:
        cluster.stop()
    print(
        f"{result['connected']}/{result['subscribers']} subscribers connected in {result['connect_seconds']} s; "
        f"{result['calls']} calls: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"max {result['max_ms']} ms, missed {result['missed']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
