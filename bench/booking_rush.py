"""The 07:00 release rush: thousands of patients hold among 300 slots through the real server.

Starts a throwaway PostgreSQL (tests/support/postgres_cluster.py), creates the schema, one
clinician with 300 slots over two weeks released at one instant, and 2,000 signed-in patients
(accounts, sessions and signed session cookies written directly). It then serves the
application with gunicorn using `hospital serve`'s production settings
(hospital.cli.server_settings: gthread, 2 workers x 8 request slots plus stream slots, each
worker on its own SO_REUSEPORT socket, HOSPITAL_ENV=production) on 127.0.0.1, from a small WSGI module written to a temp directory:
that module calls create_app() and adds the baseline route, which therefore exists only in the
benchmark's own app instance.

With 200 requests in flight at every moment, each of the patients asks for one slot among those
still shown free: a view refreshed from the availability API every half second and updated by
the answers the phones got (like an app that reloads its list); once that view is empty, the
remaining patients tap a slot from the page they opened at the release instant. The baseline phase sends the same number of requests with the same
client and concurrency to a route that authenticates the patient exactly as the booking route
does, inserts one row through the same ORM session and commits.

Prints figures; the last line is a JSON object. Never a timed assertion.

    .venv/bin/python -m bench.booking_rush [--patients 2000] [--concurrency 200]
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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-" + "k" * 40
# What production insists on; the benchmark books free slots and sends nothing out.
PRODUCTION_SETTINGS = {
    "ENV": "production",
    "SECRET_KEY": SECRET_KEY,
    "BILLING_PROVIDERS": "alipay",
    "SMS_URL": "http://127.0.0.1:9/sms",
    "SMTP_URL": "smtp://127.0.0.1:9",
}
SLOTS_PER_SESSION = 30
SESSIONS = 10

WSGI_MODULE = '''
"""The benchmark's own app instance: the production app plus a bare baseline route."""

import json
import os
import threading
import time
from datetime import datetime

import sqlalchemy as sa
from flask import jsonify
from sqlalchemy.orm import Mapped, mapped_column

from hospital.accounts.guards import require_signed_in, signed_in_account
from hospital.app import create_app
from hospital.db import UTCDateTime, db, utcnow
from hospital.extensions import csrf

app = create_app()
# Tell the benchmark this worker has loaded the app (the socket accepts before workers import).
open(os.path.join(os.environ["BENCH_READY_DIR"], str(os.getpid())), "w").close()


class BenchRow(db.Model):
    __tablename__ = "bench_row"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Count the SQL statements each request sends (per thread: one request per thread at a time),
# from the first byte in to the last byte out, so statements run by commit hooks count too.
# Counts are kept per (endpoint, status) in this worker; GET /__bench/statements returns them.
_statements = threading.local()
_counts: dict[str, list[int]] = {}
_shapes: dict[str, dict[str, int]] = {}
_counts_lock = threading.Lock()
with app.app_context():
    _engine = db.engine


@sa.event.listens_for(_engine, "before_cursor_execute")
def _count_statement(conn, cursor, statement, parameters, context, executemany):
    _statements.n = getattr(_statements, "n", 0) + 1
    _statements.seen = getattr(_statements, "seen", []) + [" ".join(statement.split())[:70]]


_inner_wsgi = app.wsgi_app


def _counting_wsgi(environ, start_response):
    if environ.get("PATH_INFO") == "/__bench/statements":
        body = json.dumps({"pid": os.getpid(), "counts": _counts, "shapes": _shapes}).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    _statements.n = 0
    _statements.seen = []
    status_seen = []
    cpu_started = time.thread_time_ns()

    def _start(status, headers, exc_info=None):
        status_seen.append(status.split()[0])
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    try:
        return list(_inner_wsgi(environ, _start))
    finally:
        key = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} {status_seen[-1] if status_seen else '?'}"
        with _counts_lock:
            entry = _counts.setdefault(key, [0, 0, 0])
            entry[0] += 1
            entry[1] += _statements.n
            entry[2] += (time.thread_time_ns() - cpu_started) // 1000  # this thread's CPU, us
            shapes = _shapes.setdefault(key, {})
            for shape in _statements.seen:
                shapes[shape] = shapes.get(shape, 0) + 1


app.wsgi_app = _counting_wsgi


@app.post("/api/v1/bench/baseline")
@csrf.exempt
@require_signed_in
def baseline():
    row = BenchRow(account_id=signed_in_account().id, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    return jsonify(id=row.id), 201
'''

BARE_MODULE = '''
"""The bare rush: a minimal Flask app, no extensions, one conditional UPDATE and one INSERT."""

import os
import queue
import threading
from contextlib import contextmanager

import psycopg
from flask import Flask, jsonify, request

CONNINFO = os.environ["BARE_CONNINFO"]
POOL_SIZE = int(os.environ.get("BARE_POOL_SIZE", "10"))

app = Flask(__name__)
open(os.path.join(os.environ["BENCH_READY_DIR"], str(os.getpid())), "w").close()
_idle: "queue.LifoQueue[psycopg.Connection]" = queue.LifoQueue()
_opened = 0
_opened_lock = threading.Lock()
_gate = threading.BoundedSemaphore(POOL_SIZE)  # at most POOL_SIZE connections, like the app's pool


@contextmanager
def connection():
    global _opened
    with _gate:
        try:
            conn = _idle.get_nowait()
        except queue.Empty:
            with _opened_lock:
                _opened += 1
            conn = psycopg.connect(CONNINFO)
        try:
            yield conn
        finally:
            conn.rollback()
            _idle.put(conn)


@app.get("/free")
def free():
    with connection() as conn:
        rows = conn.execute(
            "SELECT id, capacity - booked FROM bare_slot WHERE clinician_id = %s ORDER BY id",
            (request.args["clinician_id"],),
        ).fetchall()
    return jsonify([{"slot_id": i, "remaining": r} for i, r in rows])


@app.post("/hold")
def hold():
    body = request.get_json()
    with connection() as conn:
        cur = conn.execute(
            "UPDATE bare_slot SET booked = booked + 1 WHERE id = %s AND booked < capacity",
            (body["slot_id"],),
        )
        if cur.rowcount != 1:
            return jsonify(code="slot_full"), 409
        hold_id = conn.execute(
            "INSERT INTO bare_hold (slot_id, patient_id, created_at) VALUES (%s, %s, now()) "
            "RETURNING id",
            (body["slot_id"], body["patient_id"]),
        ).fetchone()[0]
        conn.commit()
    return jsonify(id=hold_id), 201
'''


# ---- a lean HTTP/1.1 keep-alive client (the load generator must cost the server little CPU) ----


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, *, cookie: str = "", body: Any = None) -> Reply:
        """Send one request; reconnect once if the server closed the idle connection."""
        for attempt in (1, 2):
            if self.writer is None:
                await self._open()
            try:
                return await self._exchange(method, path, cookie, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

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
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return Reply(status, data)


# ---- setting up -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_clinician() -> tuple[Any, Any]:
    """The bench hospital, one department and its clinician (inside an app context)."""
    from hospital.db import db
    from hospital.organisation.models import Clinician, ClinicianTitle, Department, Hospital

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
    db.session.add(department)
    db.session.flush()
    clinician = Clinician(
        hospital_id=hospital.id,
        department_id=department.id,
        name_zh="王建国",
        name_en="Wang Jianguo",
        title=ClinicianTitle.CHIEF_PHYSICIAN,
    )
    db.session.add(clinician)
    db.session.flush()
    return hospital, clinician


def seed(url: str, patients: int, rounds: int = 1) -> dict[str, Any]:
    """Create the schema, 300 slots per round and the signed-in patients; return cookies.

    Each round has its own clinician and its own days (so a patient's hold in one round never
    meets the daily limits of another); info's clinician_id, days and slots are round 0's.
    """
    import sqlalchemy as sa

    from hospital.accounts.models import Account, AccountRole, AuthSession, Role
    from hospital.accounts.sessions import token_hash
    from hospital.app import create_app
    from hospital.db import db
    from hospital.organisation.models import Clinician, ClinicianTitle
    from hospital.patients.models import FamilyLink, IdentityType, Patient, Relationship, Sex
    from hospital.zones import local_date, zone_for
    from scheduling.models import ClinicSession, FeeClass, SessionStatus, Slot
    from scheduling.slots import slot_times, to_utc

    app = create_app({"DATABASE_URL": url, **PRODUCTION_SETTINGS})
    serializer = app.session_interface.get_signing_serializer(app)
    now = datetime.now(UTC)
    with app.app_context():
        db.create_all()
        db.session.execute(
            sa.text(
                "CREATE TABLE bench_row (id serial PRIMARY KEY, account_id integer, "
                "created_at timestamptz)"
            )
        )
        hospital, first_clinician = seed_clinician()
        zone = zone_for(hospital)
        today = local_date(now, zone)
        weekdays = [today + timedelta(days=d) for d in range(1, 30 + 14 * rounds)]
        weekdays = [d for d in weekdays if d.weekday() < 5]
        release_at = now  # every slot is released at the same instant, before the rush
        round_info = []
        for round_index in range(rounds):
            clinician = first_clinician
            if round_index:
                clinician = Clinician(
                    hospital_id=hospital.id,
                    department_id=first_clinician.department_id,
                    name_zh=f"王医生{round_index}",
                    name_en=f"Dr Wang {round_index}",
                    title=ClinicianTitle.CHIEF_PHYSICIAN,
                )
                db.session.add(clinician)
                db.session.flush()
            days = weekdays[round_index * SESSIONS : (round_index + 1) * SESSIONS]
            slot_count = 0
            for day in days:
                start, end = dt.time(8, 0), dt.time(12, 0)
                session = ClinicSession(
                    hospital_id=hospital.id,
                    template_id=None,
                    department_id=clinician.department_id,
                    clinician_id=clinician.id,
                    local_date=day,
                    start_time=start,
                    end_time=end,
                    starts_at=to_utc(day, start, zone),
                    ends_at=to_utc(day, end, zone),
                    fee_class=FeeClass.EXPERT,
                    fee_fen=5000,
                    release_at=release_at,
                    booking_closes_minutes=30,
                    checkin_opens_minutes=60,
                    checkin_closes_minutes=15,
                    status=SessionStatus.OPEN,
                )
                db.session.add(session)
                db.session.flush()
                for times in slot_times(day, start, end, 8, zone)[:SLOTS_PER_SESSION]:
                    db.session.add(
                        Slot(
                            hospital_id=hospital.id,
                            session_id=session.id,
                            starts_at=times.starts_at,
                            ends_at=times.ends_at,
                            local_date=day,
                            closes_at=times.starts_at - timedelta(minutes=30),
                            capacity=1,
                            booked=0,
                            addon_allowance=0,
                        )
                    )
                    slot_count += 1
            round_info.append({"clinician_id": clinician.id, "days": days, "slots": slot_count})
        users = []
        for i in range(patients):
            account = Account(
                hospital_id=hospital.id, phone=f"135{i:08d}", display_name=f"Patient {i}"
            )
            account.role_rows = [AccountRole(role=Role.PATIENT, hospital_id=hospital.id)]
            patient = Patient(
                hospital_id=hospital.id,
                name=f"患者{i}",
                sex=Sex.FEMALE,
                birth_date=dt.date(1980, 1, 1),
                id_type=IdentityType.PASSPORT,
                id_number=f"E{i:08d}",
                phone=f"135{i:08d}",
            )
            db.session.add_all([account, patient])
            users.append((account, patient))
        db.session.flush()
        cookies = []
        for account, patient in users:
            token = secrets.token_urlsafe(32)
            db.session.add(
                FamilyLink(
                    hospital_id=hospital.id,
                    account_id=account.id,
                    patient_id=patient.id,
                    relationship=Relationship.SELF,
                )
            )
            db.session.add(
                AuthSession(
                    token_hash=token_hash(token),
                    account_id=account.id,
                    hospital_id=hospital.id,
                    created_at=now,
                    # Seen "later" than the run: no request refreshes it (a touch is one more
                    # UPDATE, and whether it fires would depend on how long seeding took).
                    last_seen_at=now + timedelta(minutes=30),
                    expires_at=now + timedelta(days=30),
                )
            )
            value = serializer.dumps({"_user_id": token, "_fresh": True})
            cookies.append((f"{app.config['SESSION_COOKIE_NAME']}={value}", patient.id))
        db.session.commit()
        # The bare rush books the same places in a copy of the slots, so both rushes start full.
        db.session.execute(
            sa.text(
                "CREATE TABLE bare_slot AS SELECT slot.id, capacity, booked, cs.clinician_id "
                "FROM slot JOIN clinic_session AS cs ON cs.id = slot.session_id"
            )
        )
        db.session.execute(sa.text("ALTER TABLE bare_slot ADD PRIMARY KEY (id)"))
        db.session.execute(
            sa.text(
                "CREATE TABLE bare_hold (id serial PRIMARY KEY, slot_id integer NOT NULL, "
                "patient_id integer NOT NULL, created_at timestamptz NOT NULL)"
            )
        )
        db.session.commit()
        info = {**round_info[0], "rounds": round_info, "cookies": cookies}
        db.session.remove()  # the attribute reads above opened a connection: give it back
        db.engine.dispose()
    return info


def start_server(
    url: str, workdir: Path, port: int, *, server: str = "gthread", bare: bool = False
) -> subprocess.Popen:
    """Serve the benchmark's app (or the bare app) with the given server settings."""
    module = "bare_wsgi" if bare else "bench_wsgi"
    (workdir / f"{module}.py").write_text(BARE_MODULE if bare else WSGI_MODULE)
    env = {
        **os.environ,
        "PYTHONPATH": f"{workdir}{os.pathsep}{ROOT}",
        "HOSPITAL_DATABASE_URL": url,
        **{f"HOSPITAL_{key}": value for key, value in PRODUCTION_SETTINGS.items()},
        "HOSPITAL_LOG_LEVEL": "WARNING",
        "HOSPITAL_RATELIMIT_ENABLED": "false",
        "BARE_CONNINFO": url.replace("postgresql+psycopg://", "postgresql://"),
    }
    options, environment = SERVERS[server](port)
    env.update(environment)
    ready = workdir / f"{module}-ready"
    shutil.rmtree(ready, ignore_errors=True)
    ready.mkdir()
    env["BENCH_READY_DIR"] = str(ready)
    if bare:
        options.pop("logger_class", None)  # the bare app has no hospital code at all
    # The options go in a config file, as `hospital serve` sets them: gunicorn reads each setting
    # by its own name, with no translation into command-line flags.
    config = "".join(f"{key} = {value!r}\n" for key, value in options.items())
    (workdir / f"{module}_gunicorn.py").write_text(config)
    command = [sys.executable, "-m", "gunicorn", "-c", f"{module}_gunicorn.py", f"{module}:app"]
    log = workdir / f"{module}.log"
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # noqa: SIM115 (lives as long as the server)
    )
    # Ready when every worker has loaded the app: the listening socket alone is not enough (the
    # arbiter binds it before the workers import the app, which takes seconds), and a phase that
    # starts then runs on fewer workers than the next one.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list(ready.iterdir())) >= options["workers"]:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return process
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def start_profilers(
    server: subprocess.Popen, out: Path, *, phase: str = "holds", gil: bool = False
) -> list[subprocess.Popen]:
    """Sample every worker of the server with py-spy until interrupted.

    With gil, only the thread holding the GIL is sampled: where the workers' Python CPU goes.
    """
    out.mkdir(parents=True, exist_ok=True)
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    py_spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                pid,
                "--format",
                "raw",
                "--rate",
                "100",
                "--nonblocking",  # sampling must not pause the workers
                *(["--gil"] if gil else []),
                "--output",
                str(out / f"{phase}-worker-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in children
    ]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        profiler.wait(timeout=60)


def stop_server(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    if process.poll() is None:
        process.kill()


def _gthread(threads: int) -> Any:
    def settings(port: int) -> tuple[dict[str, Any], dict[str, str]]:
        # Exactly `hospital serve`'s settings (hospital/cli.py), with the benchmark's app module.
        from hospital.cli import server_settings

        options, environment = server_settings(
            bind=f"127.0.0.1:{port}", workers=2, threads=threads, stream_slots=1000
        )
        environment["BARE_POOL_SIZE"] = str(threads)  # as many as the app's request slots
        return options, environment

    return settings


# Server settings the benchmark can compare (--server); "gthread" is what `hospital serve` runs.
SERVERS = {
    "gthread": _gthread(8),
    "gthread-4": _gthread(4),
    "gthread-16": _gthread(16),
}


# ---- the rush -----------------------------------------------------------------------------


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    gave_up: int = 0
    elapsed: float = 0.0

    def add(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(seconds)

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def run_phase(port: int, users: list[tuple[str, int]], concurrency: int, send: Any) -> Phase:
    phase = Phase()
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for user in users:
        queue.put_nowait(user)

    async def worker() -> None:
        connection = Connection("127.0.0.1", port)
        try:
            while True:
                try:
                    cookie, patient_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await send(connection, cookie, patient_id, phase)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    phase.transport_errors += 1
                    await connection.close()
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.elapsed = time.perf_counter() - started
    return phase


class FreeSlots:
    """What the patients' phones show as free: refreshed from the availability API."""

    def __init__(self, port: int, cookie: str, path: str) -> None:
        self.port = port
        self.cookie = cookie
        self.path = path
        self.free: list[int] = []
        self.refreshes = 0

    async def refresh(self, connection: Connection) -> None:
        reply = await connection.request("GET", self.path, cookie=self.cookie)
        if reply.status == 200:
            self.free = [s["slot_id"] for s in reply.json() if s["remaining"] > 0]
            self.refreshes += 1

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        connection = Connection("127.0.0.1", self.port)
        try:
            while not stop.is_set():
                await self.refresh(connection)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
        finally:
            await connection.close()

    def taken(self, slot_id: int) -> None:
        with contextlib.suppress(ValueError):
            self.free.remove(slot_id)


async def warm_up(port: int, users: list[tuple[str, int]], path: str) -> None:
    """Let every worker load its code before timing (new connections spread over the workers)."""
    for cookie, _pid in users[:20]:
        warm = Connection("127.0.0.1", port)
        await warm.request("GET", path, cookie=cookie)
        await warm.close()


async def baseline_phase(port: int, info: dict[str, Any], concurrency: int) -> Phase:
    users = info["cookies"]
    await warm_up(port, users, "/api/v1/scheduling/appointments")

    async def baseline(connection: Connection, cookie: str, _patient_id: int, phase: Phase) -> None:
        began = time.perf_counter()
        reply = await connection.request("POST", "/api/v1/bench/baseline", cookie=cookie, body={})
        phase.add(reply.status, time.perf_counter() - began)

    return await run_phase(port, users, concurrency, baseline)


async def rush(
    port: int, info: dict[str, Any], concurrency: int, *, bare: bool = False
) -> tuple[Phase, int]:
    """Every patient taps one slot among those shown free; (the phase, availability refreshes)."""
    users = info["cookies"]
    if bare:
        free_path, hold_path = f"/free?clinician_id={info['clinician_id']}", "/hold"
        await warm_up(port, users, free_path)
    else:
        days = info["days"]
        free_path = (
            f"/api/v1/scheduling/availability?clinician_id={info['clinician_id']}"
            f"&from={days[0].isoformat()}&to={days[-1].isoformat()}&only_bookable=true"
        )
        hold_path = "/api/v1/scheduling/appointments"
    shown = FreeSlots(port, users[0][0], free_path)
    first = Connection("127.0.0.1", port)
    await shown.refresh(first)
    await first.close()
    stop = asyncio.Event()
    refresher = asyncio.create_task(shown.keep_fresh(stop))
    rng = random.Random(7)

    opened_page = list(shown.free)  # what every phone showed at the release instant

    async def hold(connection: Connection, cookie: str, patient_id: int, phase: Phase) -> None:
        if shown.free:
            slot_id = rng.choice(shown.free)
        else:
            # Everything is gone, but this phone never reloaded: it taps what it still shows.
            phase.gave_up += 1
            slot_id = rng.choice(opened_page)
        began = time.perf_counter()
        reply = await connection.request(
            "POST", hold_path, cookie=cookie, body={"patient_id": patient_id, "slot_id": slot_id}
        )
        phase.add(reply.status, time.perf_counter() - began)
        if reply.status in (201, 409):
            shown.taken(slot_id)

    holds = await run_phase(port, users, concurrency, hold)
    stop.set()
    await refresher
    return holds, shown.refreshes


async def statement_counts(
    port: int, workers: int = 2
) -> tuple[dict[str, list[int]], dict[str, dict[str, int]]]:
    """Add up every worker's statement counts (new connections land on random workers)."""
    seen: dict[int, dict[str, list[int]]] = {}
    shapes: dict[str, dict[str, int]] = {}
    for _ in range(100):
        connection = Connection("127.0.0.1", port)
        reply = await connection.request("GET", "/__bench/statements")
        await connection.close()
        data = reply.json()
        if data["pid"] not in seen:
            for key, counted in data["shapes"].items():
                into = shapes.setdefault(key, {})
                for shape, n in counted.items():
                    into[shape] = into.get(shape, 0) + n
        seen[data["pid"]] = data["counts"]
        if len(seen) == workers:
            break
    total: dict[str, list[int]] = {}
    for counts in seen.values():
        for key, (requests, statements, cpu_us) in counts.items():
            entry = total.setdefault(key, [0, 0, 0])
            entry[0] += requests
            entry[1] += statements
            entry[2] += cpu_us
    return total, shapes


def audit(url: str) -> dict[str, int]:
    """Count overbooked slots in the database after the rush."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        overbooked = conn.execute(
            sa.text(
                "SELECT count(*) FROM slot s WHERE s.booked > s.capacity + s.addon_allowance "
                "OR s.booked <> (SELECT count(*) FROM appointment a WHERE a.slot_id = s.id "
                "AND a.state NOT IN ('cancelled', 'expired'))"
            )
        ).scalar_one()
        held = conn.execute(sa.text("SELECT count(*) FROM appointment")).scalar_one()
        taken = conn.execute(sa.text("SELECT count(*) FROM slot WHERE booked > 0")).scalar_one()
    engine.dispose()
    return {"overbooked": overbooked, "appointments": held, "slots_taken": taken}


# ---- where the machine's CPU went in each phase ----------------------------------------------

_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _process_ticks(pid: int) -> tuple[int, int]:
    """(user + system ticks, parent pid) of a process; (0, 0) once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[1])


def _tree_ticks(root: int) -> int:
    """CPU ticks of a process and its children (the postmaster's backends, the server's workers)."""
    total, _ = _process_ticks(root)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ticks, parent = _process_ticks(int(entry.name))
            if parent == root:
                total += ticks
    return total


def cpu_snapshot(postmaster: int, server: subprocess.Popen) -> dict[str, float]:
    """CPU used so far (ms) by PostgreSQL, the app server, this load generator, and the machine."""
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    ticks = [int(v) for v in cpu]
    idle = ticks[3] + ticks[4]
    own = os.times()
    return {
        "postgres": _tree_ticks(postmaster) * _TICK_MS,
        "app": _tree_ticks(server.pid) * _TICK_MS,
        "client": (own.user + own.system) * 1000,
        "machine_busy": (sum(ticks[:8]) - idle) * _TICK_MS,
        "machine_idle": idle * _TICK_MS,
    }


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict:
    """Per request (ms): each part's CPU, the rest of the machine's busy time, and idle time."""
    used = {key: (after[key] - before[key]) / max(requests, 1) for key in before}
    used["other"] = used["machine_busy"] - used["postgres"] - used["app"] - used["client"]
    return {key: round(value, 2) for key, value in used.items() if key != "machine_busy"}


def _add_cpu(into: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    """Add one phase's CPU (after - before) to the running totals of its kind."""
    for key in before:
        into[key] = into.get(key, 0.0) + after[key] - before[key]


def _merged(phases: list[Phase]) -> Phase:
    """The rounds of one kind as one phase (all latencies, statuses and errors; summed time)."""
    merged = Phase()
    for phase in phases:
        merged.latencies.extend(phase.latencies)
        for status, n in phase.statuses.items():
            merged.statuses[status] = merged.statuses.get(status, 0) + n
        merged.transport_errors += phase.transport_errors
        merged.gave_up += phase.gave_up
        merged.elapsed += phase.elapsed
    return merged


def _rate(phase: Phase) -> float:
    return phase.answered / phase.elapsed if phase.elapsed else 0.0


def per_request(counts: dict[str, list[int]], key: str) -> float:
    requests, statements, _cpu = counts.get(key, [0, 0, 0])
    return round(statements / requests, 2) if requests else 0.0


def cpu_ms_per_request(counts: dict[str, list[int]], key: str) -> float:
    """The server thread's CPU time per request (ms), from the first byte in to the last out."""
    requests, _statements, cpu_us = counts.get(key, [0, 0, 0])
    return round(cpu_us / requests / 1000, 2) if requests else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rushes per run, each on its own 300 places, each after its own baseline",
    )
    parser.add_argument("--server", choices=sorted(SERVERS), default="gthread")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="record the app workers with py-spy during the baseline and the holds "
        "(collapsed stacks in DIR, one file per phase and worker)",
    )
    parser.add_argument(
        "--profile-gil",
        action="store_true",
        help="with --profile, sample only the thread holding the GIL (the workers' Python CPU)",
    )
    args = parser.parse_args()

    from tests.support.postgres_cluster import PostgresCluster

    cluster = PostgresCluster(max_connections=300)
    workdir = Path(tempfile.mkdtemp(prefix="booking-rush-"))
    server = None
    try:
        url = cluster.start("hospital_bench")
        print(
            f"seeding {args.patients} patients and {SESSIONS * SLOTS_PER_SESSION} slots ...",
            flush=True,
        )
        info = seed(url, args.patients, rounds=args.rounds)
        rounds = [{**info, **one} for one in info["rounds"]]
        port = free_port()
        # The bare rushes first, alone on the machine, with the same server settings and load.
        server = start_server(url, workdir, port, server=args.server, bare=True)
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        bares: list[Phase] = []
        before = cpu_snapshot(postmaster, server)
        for one in rounds:
            bares.append(asyncio.run(rush(port, one, args.concurrency, bare=True))[0])
        machine = {
            "bare": cpu_per_request(
                before, cpu_snapshot(postmaster, server), sum(b.answered for b in bares)
            )
        }
        stop_server(server)
        port = free_port()
        server = start_server(url, workdir, port, server=args.server)
        profile = Path(args.profile) if args.profile else None
        # Then the baseline and the rush in turns, one pair per round: what the shared machine
        # does meanwhile falls on both alike, and the median round says what is typical.
        bases: list[Phase] = []
        rushes: list[Phase] = []
        refreshes = 0
        spent: dict[str, dict[str, float]] = {"baseline": {}, "holds": {}}
        for index, one in enumerate(rounds):
            profilers = (
                start_profilers(server, profile, phase=f"baseline-{index}", gil=args.profile_gil)
                if profile
                else []
            )
            before = cpu_snapshot(postmaster, server)
            bases.append(asyncio.run(baseline_phase(port, info, args.concurrency)))
            _add_cpu(spent["baseline"], before, cpu_snapshot(postmaster, server))
            stop_profilers(profilers)
            profilers = (
                start_profilers(server, profile, phase=f"holds-{index}", gil=args.profile_gil)
                if profile
                else []
            )
            before = cpu_snapshot(postmaster, server)
            phase, refreshed = asyncio.run(rush(port, one, args.concurrency))
            rushes.append(phase)
            refreshes += refreshed
            _add_cpu(spent["holds"], before, cpu_snapshot(postmaster, server))
            stop_profilers(profilers)
        counts, shapes = asyncio.run(statement_counts(port))
        checked = audit(url)
    finally:
        stop_server(server)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    zero = dict.fromkeys(spent["baseline"], 0.0)
    machine["baseline"] = cpu_per_request(zero, spent["baseline"], sum(b.answered for b in bases))
    machine["holds"] = cpu_per_request(zero, spent["holds"], sum(h.answered for h in rushes))
    bare, base, holds = _merged(bares), _merged(bases), _merged(rushes)
    hold_statuses = holds.statuses
    unexpected = sum(n for status, n in hold_statuses.items() if status not in (201, 409))
    unexpected += sum(n for status, n in base.statuses.items() if status != 201)
    unexpected += sum(n for status, n in bare.statuses.items() if status not in (201, 409))
    errors = unexpected + holds.transport_errors + base.transport_errors + bare.transport_errors
    # Each kind's median round; the ratio is the median of the rounds' own ratios (each round's
    # baseline ran just before its rush).
    holds_by_round = [round(_rate(phase), 1) for phase in rushes]
    base_by_round = [round(_rate(phase), 1) for phase in bases]
    bare_by_round = [round(_rate(phase), 1) for phase in bares]
    ratio_by_round = [
        round(h / b, 3) if b else 0.0 for h, b in zip(holds_by_round, base_by_round, strict=True)
    ]
    holds_per_s = statistics.median(holds_by_round)
    bare_per_s = statistics.median(bare_by_round)
    statements_per_hold = per_request(counts, "POST /api/v1/scheduling/appointments 201")
    statements_per_409 = per_request(counts, "POST /api/v1/scheduling/appointments 409")
    baseline_per_s = statistics.median(base_by_round)
    ratio = statistics.median(ratio_by_round)
    print(
        f"rounds: {len(rounds)}; holds/s {holds_by_round}, baseline/s {base_by_round}, "
        f"ratios {ratio_by_round}, bare rush/s {bare_by_round} (medians below)"
    )
    print(
        f"baseline: {base.answered} requests in {base.elapsed:.2f} s = {baseline_per_s:.0f}/s, "
        f"p50 {base.percentile(50):.0f} ms, p99 {base.percentile(99):.0f} ms, "
        f"statuses {dict(sorted(base.statuses.items()))}"
    )
    print(
        f"holds:    {holds.answered} requests in {holds.elapsed:.2f} s = {holds_per_s:.0f}/s, "
        f"p50 {holds.percentile(50):.0f} ms, p99 {holds.percentile(99):.0f} ms, "
        f"statuses {dict(sorted(hold_statuses.items()))}"
    )
    print(
        f"held {hold_statuses.get(201, 0)} of {sum(one['slots'] for one in rounds)} slots; "
        f"{hold_statuses.get(409, 0)} got 409; {holds.gave_up} tapped a stale page after all slots were gone; "
        f"{refreshes} availability refreshes; database: {checked}"
    )
    print(
        f"bare rush: {bare.answered} requests in {bare.elapsed:.2f} s = {bare_per_s:.0f}/s, "
        f"p50 {bare.percentile(50):.0f} ms, p99 {bare.percentile(99):.0f} ms, "
        f"statuses {dict(sorted(bare.statuses.items()))}"
    )
    print(
        f"holds / baseline {ratio:.2f}, "
        f"holds / bare rush {holds_per_s / bare_per_s if bare_per_s else 0:.2f}; "
        f"statements per hold (201) {statements_per_hold}, per 409 {statements_per_409}, "
        f"per baseline {per_request(counts, 'POST /api/v1/bench/baseline 201')}"
    )
    cpu = {
        "hold": cpu_ms_per_request(counts, "POST /api/v1/scheduling/appointments 201"),
        "409": cpu_ms_per_request(counts, "POST /api/v1/scheduling/appointments 409"),
        "baseline": cpu_ms_per_request(counts, "POST /api/v1/bench/baseline 201"),
    }
    print(
        f"server CPU per request (the handling thread's own): hold (201) {cpu['hold']} ms, "
        f"409 {cpu['409']} ms, baseline {cpu['baseline']} ms"
    )
    for kind, used in machine.items():
        print(f"machine CPU per request, {kind}: {used}")
    hold_key = "POST /api/v1/scheduling/appointments 201"
    held_n = counts.get(hold_key, [0, 0])[0]
    for shape, n in sorted(shapes.get(hold_key, {}).items(), key=lambda kv: -kv[1]):
        print(f"  per hold {n / held_n if held_n else 0:5.2f} x {shape}")
    print(f"overbooked slots: {checked['overbooked']}; other errors: {errors}")
    figures = {
        "patients": args.patients,
        "concurrency": args.concurrency,
        "holds_per_s": round(holds_per_s, 1),
        "baseline_per_s": round(baseline_per_s, 1),
        "ratio": ratio,
        "p50_ms": round(holds.percentile(50), 1),
        "p99_ms": round(holds.percentile(99), 1),
        "baseline_p99_ms": round(base.percentile(99), 1),
        "held": hold_statuses.get(201, 0),
        "conflicts_409": hold_statuses.get(409, 0),
        "stale_taps": holds.gave_up,
        "overbooked": checked["overbooked"],
        "errors": errors,
        "server": args.server,
        "bare_rush_per_s": round(bare_per_s, 1),
        "vs_bare_rush": round(holds_per_s / bare_per_s, 3) if bare_per_s else 0.0,
        "bare_rush_p99_ms": round(bare.percentile(99), 1),
        "statements_per_hold": statements_per_hold,
        "statements_per_409": statements_per_409,
        "cpu_ms_per_hold": cpu["hold"],
        "cpu_ms_per_409": cpu["409"],
        "cpu_ms_per_baseline": cpu["baseline"],
        "machine_ms_per_request": machine,
        "rounds": len(rounds),
        "ratio_by_round": ratio_by_round,
        "holds_per_s_by_round": holds_by_round,
        "baseline_per_s_by_round": base_by_round,
        "bare_rush_per_s_by_round": bare_by_round,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
