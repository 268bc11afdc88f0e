"""The booking rush through HAProxy to three instances, and the same rush against one instance.

Starts the production layout of `make cluster` itself (deploy/cluster.py: PostgreSQL, Redis,
three `hospital serve` instances, two schedulers, HAProxy) on free ports in a temporary folder,
seeds a hospital at the issue's size (10,000 signed-in patients for 1,000 places of one
clinician, released at one instant; bulk inserts, so seeding takes seconds), and runs
bench/booking_rush.py's rush twice in the same run: once against one instance directly (no
proxy; the other two idle), once through the proxy to all three. Between the two the
appointments are wiped and every place is free again, and Redis is flushed (limits).
Everything is stopped at the end.

Every answer's status is counted, and every 429 and 503 is checked for a `Retry-After` header:
one without it counts as an error (`retry_after_missing`), as does any 5xx (`errors_5xx`;
a 503 counts there even with the header) and any transport error.

Prints figures; the last line is a JSON object with holds_per_s (through the proxy),
single_per_s, ratio (cluster / single), overbooked, errors_5xx, p99_ms, retry_after_missing
and more. Never a timed assertion.

    .venv/bin/python -m bench.cluster_rush [--patients 10000] [--places 1000] [--concurrency 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `.venv/bin/python bench/cluster_rush.py` too
    sys.path.insert(0, str(ROOT))

from bench.booking_rush import (  # noqa: E402
    PRODUCTION_SETTINGS,
    SECRET_KEY,
    Connection,
    FreeSlots,
    Reply,
    audit,
    seed_clinician,
)
from deploy.cluster import WEB_COUNT, Cluster, Ports  # noqa: E402

DAYS = 10
SESSIONS_PER_DAY = 2  # a morning and an afternoon session a day
SESSION_HOURS = ((dt.time(8, 0), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))
SLOT_MINUTES = 4  # 60 slots in four hours: room for 50 places a session
CHUNK = 2000  # rows per bulk INSERT


# ---- seeding at the size ------------------------------------------------------------


def _bulk(model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in chunks (one multi-row INSERT each); return their ids in order."""
    from hospital.db import db

    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        ids += db.session.scalars(
            sa.insert(model).returning(model.id, sort_by_parameter_order=True), chunk
        ).all()
    return ids


def seed(url: str, patients: int, places: int) -> dict[str, Any]:
    """One clinician's places released now and signed-in patients; return their cookies."""
    from hospital.accounts.models import Account, AccountRole, AuthSession, Role
    from hospital.accounts.sessions import token_hash
    from hospital.app import create_app
    from hospital.db import db
    from hospital.patients.models import FamilyLink, IdentityType, Patient, Relationship, Sex
    from hospital.zones import local_date, zone_for
    from scheduling.models import ClinicSession, FeeClass, SessionStatus, Slot
    from scheduling.slots import slot_times, to_utc

    per_session = -(-places // (DAYS * SESSIONS_PER_DAY))
    app = create_app({"DATABASE_URL": url, **PRODUCTION_SETTINGS})
    serializer = app.session_interface.get_signing_serializer(app)
    now = datetime.now(UTC)
    with app.app_context():
        hospital, clinician = seed_clinician()
        hospital_id, zone = hospital.id, zone_for(hospital)
        today = local_date(now, zone)
        days = [d for d in (today + timedelta(days=n) for n in range(1, 30)) if d.weekday() < 5]
        days = days[:DAYS]
        sessions: list[tuple[dt.date, dt.time, dt.time]] = [
            (day, start, end) for day in days for start, end in SESSION_HOURS
        ]
        session_ids = _bulk(
            ClinicSession,
            [
                {
                    "hospital_id": hospital_id,
                    "department_id": clinician.department_id,
                    "clinician_id": clinician.id,
                    "local_date": day,
                    "start_time": start,
                    "end_time": end,
                    "starts_at": to_utc(day, start, zone),
                    "ends_at": to_utc(day, end, zone),
                    "fee_class": FeeClass.EXPERT,
                    "fee_fen": 5000,
                    "release_at": now,  # every place released at the same instant
                    "booking_closes_minutes": 30,
                    "checkin_opens_minutes": 60,
                    "checkin_closes_minutes": 15,
                    "status": SessionStatus.OPEN,
                }
                for day, start, end in sessions
            ],
        )
        slots = []
        for session_id, (day, start, end) in zip(session_ids, sessions, strict=True):
            for times in slot_times(day, start, end, SLOT_MINUTES, zone)[:per_session]:
                if len(slots) < places:
                    slots.append(
                        {
                            "hospital_id": hospital_id,
                            "session_id": session_id,
                            "starts_at": times.starts_at,
                            "ends_at": times.ends_at,
                            "local_date": day,
                            "closes_at": times.starts_at - timedelta(minutes=30),
                            "capacity": 1,
                            "booked": 0,
                            "addon_allowance": 0,
                        }
                    )
        _bulk(Slot, slots)
        account_ids = _bulk(
            Account,
            [
                {"hospital_id": hospital_id, "phone": f"135{i:08d}", "display_name": f"Patient {i}"}
                for i in range(patients)
            ],
        )
        db.session.execute(
            sa.insert(AccountRole),
            [
                {"account_id": a, "role": Role.PATIENT, "hospital_id": hospital_id}
                for a in account_ids
            ],
        )
        patient_ids = _bulk(
            Patient,
            [
                {
                    "hospital_id": hospital_id,
                    "name": f"患者{i}",
                    "sex": Sex.FEMALE,
                    "birth_date": dt.date(1980, 1, 1),
                    "id_type": IdentityType.PASSPORT,
                    "id_number": f"E{i:08d}",
                    "phone": f"135{i:08d}",
                }
                for i in range(patients)
            ],
        )
        _bulk(
            FamilyLink,
            [
                {
                    "hospital_id": hospital_id,
                    "account_id": a,
                    "patient_id": p,
                    "relationship": Relationship.SELF,
                }
                for a, p in zip(account_ids, patient_ids, strict=True)
            ],
        )
        tokens = [secrets.token_urlsafe(32) for _ in account_ids]
        _bulk(
            AuthSession,
            [
                {
                    "token_hash": token_hash(token),
                    "account_id": a,
                    "hospital_id": hospital_id,
                    "created_at": now,
                    # Seen "later" than the run: no request refreshes it (as booking_rush).
                    "last_seen_at": now + timedelta(minutes=30),
                    "expires_at": now + timedelta(days=30),
                }
                for a, token in zip(account_ids, tokens, strict=True)
            ],
        )
        db.session.commit()
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        cookies = [
            (f"{cookie_name}={serializer.dumps({'_user_id': token, '_fresh': True})}", p)
            for token, p in zip(tokens, patient_ids, strict=True)
        ]
        info = {
            "clinician_id": clinician.id,
            "days": days,
            "slots": len(slots),
            "cookies": cookies,
        }
        db.session.remove()
        db.engine.dispose()
    return info


# ---- the rush, with every 429/503 checked for Retry-After --------------------------------------


@dataclass
class Answer(Reply):
    retry_after: str | None = None


class CheckingConnection(Connection):
    """booking_rush's lean keep-alive client, also reading the Retry-After header."""

    async def _exchange(self, method: str, path: str, cookie: str, body: Any) -> Reply:
        assert self.reader is not None and self.writer is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Connection: keep-alive",
            "Accept: application/json",
        ]
        if cookie:
            head.append(f"Cookie: {cookie}")
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        status = int((await self.reader.readuntil(b"\r\n")).split()[1])
        length, close, retry_after = 0, False, None
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.lower() == "close":
                close = True
            elif name == "retry-after":
                retry_after = value
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return Answer(status, data, retry_after)


@dataclass
class Rush:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    throttled: int = 0  # 429 and 503 answers
    retry_after_missing: int = 0  # of those, without a usable Retry-After
    transport_errors: int = 0
    elapsed: float = 0.0

    def add(self, reply: Reply, seconds: float) -> None:
        self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
        self.latencies.append(seconds)
        if reply.status in (429, 503):
            self.throttled += 1
            value = getattr(reply, "retry_after", None)
            if value is None or not value.isdigit() or int(value) <= 0:
                self.retry_after_missing += 1

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000

    def figures(self) -> dict[str, Any]:
        statuses = dict(sorted(self.statuses.items()))
        answered = len(self.latencies)
        return {
            "requests": answered,
            "seconds": round(self.elapsed, 2),
            "per_s": round(answered / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(self.percentile(50)),
            "p99_ms": round(self.percentile(99)),
            "statuses": statuses,
            "errors_5xx": sum(n for status, n in statuses.items() if status >= 500),
            "throttled_429_503": self.throttled,
            "retry_after_missing": self.retry_after_missing,
            "transport_errors": self.transport_errors,
        }


async def rush(port: int, info: dict[str, Any], concurrency: int) -> tuple[Rush, int]:
    """booking_rush's rush: each patient taps one place among those shown free."""
    users: list[tuple[str, int]] = info["cookies"]
    days = info["days"]
    free_path = (
        f"/api/v1/scheduling/availability?clinician_id={info['clinician_id']}"
        f"&from={days[0].isoformat()}&to={days[-1].isoformat()}&only_bookable=true"
    )
    for cookie, _patient in users[:20]:  # every instance loads its code before timing
        warm = CheckingConnection("127.0.0.1", port)
        await warm.request("GET", free_path, cookie=cookie)
        await warm.close()
    shown = FreeSlots(port, users[0][0], free_path)
    first = CheckingConnection("127.0.0.1", port)
    await shown.refresh(first)
    await first.close()
    opened_page = list(shown.free)  # what every phone showed at the release instant
    stop = asyncio.Event()
    refresher = asyncio.create_task(shown.keep_fresh(stop))
    rng = random.Random(7)
    result = Rush()
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)

    async def worker() -> None:
        connection = CheckingConnection("127.0.0.1", port)
        try:
            while True:
                try:
                    cookie, patient_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                slot_id = rng.choice(shown.free or opened_page)
                began = time.perf_counter()
                try:
                    reply = await connection.request(
                        "POST",
                        "/api/v1/scheduling/appointments",
                        cookie=cookie,
                        body={"patient_id": patient_id, "slot_id": slot_id},
                    )
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    result.transport_errors += 1
                    await connection.close()
                    continue
                result.add(reply, time.perf_counter() - began)
                if reply.status in (201, 409):
                    shown.taken(slot_id)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    stop.set()
    await refresher
    return result, shown.refreshes


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


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--places", type=int, default=1_000)
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
    loads: list[str] = []
    try:
        print(f"starting the cluster under {base} ...", flush=True)
        cluster.start()
        began = time.perf_counter()
        info = seed(cluster.database_url, args.patients, args.places)
        print(
            f"seeded {args.patients} patients and {info['slots']} places "
            f"in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        loads.append(load_average())
        single, _ = asyncio.run(rush(cluster.ports.web[0], info, args.concurrency))
        checked["single"] = audit(cluster.database_url)
        reset(cluster)
        loads.append(load_average())
        holds, refreshes = asyncio.run(rush(cluster.ports.proxy, info, args.concurrency))
        checked["cluster"] = audit(cluster.database_url)
        loads.append(load_average())
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)

    one, many = single.figures(), holds.figures()
    print(f"one instance, direct:     {one}")
    print(f"{WEB_COUNT} instances via HAProxy: {many}")
    print(f"database after each: {checked}; availability refreshes {refreshes}")
    print(f"load average (1/5/15 min) before single, before cluster, after: {loads}")
    missing = many["retry_after_missing"] + one["retry_after_missing"]
    errors_5xx = many["errors_5xx"] + one["errors_5xx"]
    result = {
        "patients": args.patients,
        "places": info["slots"],
        "concurrency": args.concurrency,
        "holds_per_s": many["per_s"],
        "single_per_s": one["per_s"],
        "ratio": round(many["per_s"] / one["per_s"], 2) if one["per_s"] else 0.0,
        "overbooked": checked["cluster"]["overbooked"] + checked["single"]["overbooked"],
        "errors_5xx": errors_5xx,
        "p50_ms": many["p50_ms"],
        "p99_ms": many["p99_ms"],
        "single_p99_ms": one["p99_ms"],
        "throttled_429_503": many["throttled_429_503"] + one["throttled_429_503"],
        "retry_after_missing": missing,
        "transport_errors": many["transport_errors"] + one["transport_errors"],
        # Errors: any 5xx, a 429 or 503 without Retry-After, a transport error.
        "errors": errors_5xx + missing + many["transport_errors"] + one["transport_errors"],
        "held": many["statuses"].get(201, 0),
        "single_held": one["statuses"].get(201, 0),
        "load_average": loads[-1] if loads else "?",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
