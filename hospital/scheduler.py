"""Run the registered jobs: one APScheduler process, leader-elected on PostgreSQL.

Every web instance may start `hospital scheduler`; on PostgreSQL only the holder of an advisory
lock runs jobs, the others stand by and take over when the leader's database session ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from prometheus_client.core import GaugeMetricFamily

from hospital.db import db, utcnow
from hospital.jobs import REGISTRY, Job
from hospital.unit_of_work import unit_of_work

log = logging.getLogger("hospital.scheduler")
# APScheduler logs every run of every job at INFO (about 25 lines a minute here), which buries
# what matters. run_job logs a job's failure, and what a job did when it did something.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
LEADER_LOCK_KEY = 7_301_001  # pg advisory lock id; any fixed number shared by all instances
JOB_LOCK_CLASS = 7_302  # with a job's number: held by the process running that job
# A standby asks for the lock this often; the leader checks it still holds it this often (and
# before every job run). Both are one cheap statement, and together they bound a takeover.
STANDBY_SECONDS = 5
LEADERSHIP_CHECK_SECONDS = 5
# The leader's session must end soon after its process or machine does, or the lock stays held
# by a dead session: a killed process's socket is closed by its kernel at once, but a machine
# that loses power or its network sends nothing, and PostgreSQL would keep the session (and
# the lock) until the operating system's TCP keepalive gives up, two hours by default. So the
# server probes the leader's connection after 5 s of silence and drops it after three
# unanswered probes (and the leader, likewise, notices a vanished server).
KEEPALIVE_SECONDS = 5
KEEPALIVE_PROBES = 3

# coalesce: a job that fell behind runs once, not once per missed tick.
# max_instances=1: a slow run is never overlapped by the next one.
# misfire_grace_time=None: a run that starts late (pool busy, process paused) still runs;
# a bounded grace time silently drops runs in a burst, and every job is a catch-up sweep
# over `now`, so running late is always right.
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


class JobFence:
    """On PostgreSQL: a job runs only while this process leads and no other process runs it.

    The leader watch checks the leader lock only every LEADERSHIP_CHECK_SECONDS; a process
    whose database session ended (a network cut, PostgreSQL restarted) while a standby took the
    lock would run jobs alongside the new leader until then. So each run first asks the
    leader's session whether it still holds the lock, and holds the job's own advisory lock
    while it runs, so that no job ever runs in two processes at once. A run that finds the lock
    gone calls `on_lost` at once: the process steps down and stands for election again then,
    rather than at the next watch, so it never claims to lead a moment longer than it does.
    """

    def __init__(
        self,
        engine: sa.Engine,
        leader: sa.Connection,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.leader = leader
        self.on_lost = on_lost
        self._leader_lock = threading.Lock()  # jobs run in a thread pool; one connection

    def leading(self) -> bool:
        with self._leader_lock:
            return still_leading(self.leader)

    def close(self) -> None:
        """End the leader's session (and with it the lock), never while a job thread uses it."""
        with self._leader_lock, contextlib.suppress(sa.exc.SQLAlchemyError):
            self.leader.close()

    @contextlib.contextmanager
    def running(self, job_id: str) -> Iterator[bool]:
        """Yield whether this process may run the job now (and hold its lock meanwhile)."""
        if not self.leading():
            if self.on_lost is not None:
                self.on_lost()
            yield False
            return
        try:
            connection = self.engine.connect()
        except sa.exc.DBAPIError:
            yield False
            return
        try:
            got = connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(JOB_LOCK_CLASS, job_number(job_id)))
            ).scalar()
            connection.commit()
            yield bool(got)
        finally:
            connection.close()  # unpooled: the session ends, and with it the job's lock


def job_number(job_id: str) -> int:
    """A job's second advisory-lock key (a signed 32-bit number)."""
    return zlib.crc32(job_id.encode()) - 2**31


def run_job(app: Flask, job: Job, fence: JobFence | None = None) -> None:
    """Run one job in its own app context and unit of work; log, never raise, its failure.

    Each run is logged at DEBUG as one line with its start, end and process, so that an
    operator (and the fault suite) can check that no job ran twice at once across the cluster.
    """
    with contextlib.ExitStack() as stack:
        if fence is not None and not stack.enter_context(fence.running(job.id)):
            log.warning("job %s not run: not the leader, or running in another process", job.id)
            return
        started = utcnow()
        outcome = "done"
        with app.app_context():
            try:
                with unit_of_work():
                    done = job.func(now=started)
                if done:
                    log.info("job %s: %s", job.id, done)
            except Exception:
                outcome = "failed"
                log.exception("job %s failed", job.id)
            finally:
                db.session.remove()
        if log.isEnabledFor(logging.DEBUG):
            fields = {
                "event": "job",
                "job": job.id,
                "started": started.isoformat(),
                "finished": utcnow().isoformat(),
                "pid": os.getpid(),
                "outcome": outcome,
            }
            log.debug("job %s ran: %s", job.id, fields, extra={"fields": fields})


def run_all_once(app: Flask) -> None:
    for job in REGISTRY.values():
        run_job(app, job)


def build_scheduler(
    app: Flask,
    scheduler_cls: type[BaseScheduler] = BlockingScheduler,
    jobs: Iterable[Job] | None = None,
    fence: JobFence | None = None,
) -> BaseScheduler:
    """A scheduler holding every registered job (or the jobs given), not yet started."""
    scheduler = scheduler_cls(timezone="UTC", job_defaults=JOB_DEFAULTS)
    for job in REGISTRY.values() if jobs is None else jobs:
        scheduler.add_job(
            run_job,
            job.trigger,
            args=(app, job, fence),
            id=job.id,
            name=job.id,
            **job.trigger_args,
        )
    return scheduler


def try_to_lead(connection: sa.Connection) -> bool:
    """Take the leader lock on this session if no other session holds it."""
    got = bool(
        connection.execute(sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK_KEY))).scalar()
    )
    connection.commit()  # the lock is held by the session, not the transaction
    return got


def still_leading(connection: sa.Connection) -> bool:
    """Whether this session still holds the leader lock (False if the session is gone)."""
    try:
        held = connection.execute(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = 0 AND objid = :key AND objsubid = 1 "
                "AND pid = pg_backend_pid() AND granted)"
            ),
            {"key": LEADER_LOCK_KEY},
        ).scalar()
        connection.commit()
    except sa.exc.SQLAlchemyError:
        return False
    return bool(held)


def leader_engine(app: Flask) -> sa.Engine | None:
    """An unpooled engine for the leader's session (None on SQLite: no election needed).

    A pooled connection would go back to the pool on close with its session, and the lock,
    still alive; closing an unpooled one ends the session and hands leadership over. Its
    sessions are probed by TCP keepalives on both sides (see KEEPALIVE_SECONDS).
    """
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return None
        url = db.engine.url
        return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=keepalives(url))


def keepalives(url: sa.URL) -> dict[str, Any]:
    """libpq settings: the client's keepalives, and the server's for this session."""
    server = " ".join(
        f"-c {name}={value}"
        for name, value in (
            ("tcp_keepalives_idle", KEEPALIVE_SECONDS),
            ("tcp_keepalives_interval", KEEPALIVE_SECONDS),
            ("tcp_keepalives_count", KEEPALIVE_PROBES),
        )
    )
    options = url.query.get("options")
    given = " ".join(options) if isinstance(options, tuple) else options
    return {
        "connect_timeout": KEEPALIVE_SECONDS * 2,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_SECONDS,
        "keepalives_interval": KEEPALIVE_SECONDS,
        "keepalives_count": KEEPALIVE_PROBES,
        "options": f"{given} {server}" if given else server,
    }


def _wait_for_leadership(app: Flask) -> sa.Connection | None:
    """On PostgreSQL, hold an advisory lock so that only one scheduler runs jobs."""
    engine = leader_engine(app)
    if engine is None:
        return None
    while True:
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError:
            log.exception("scheduler: cannot reach the database")
        else:
            try:
                if try_to_lead(connection):
                    log.info("scheduler: this process is the leader")
                    return connection
            except sa.exc.DBAPIError:
                log.exception("scheduler: cannot reach the database")
            connection.close()
        log.info("scheduler: another process leads (or the database is away); standing by")
        time.sleep(STANDBY_SECONDS)


def _watch_leadership(fence: JobFence, step_down: Callable[[], None]) -> None:
    if not fence.leading():
        step_down()


def _stepping_down(scheduler: BaseScheduler, lost: threading.Event) -> Callable[[], None]:
    """Stop the jobs once the leader lock is gone (from the watch or a job, whichever is first)."""
    once = threading.Lock()

    def step_down() -> None:
        with once:
            if lost.is_set():
                return
            lost.set()
        log.error("scheduler: lost the leader lock (database session ended); stopping jobs")
        with contextlib.suppress(SchedulerNotRunningError):
            scheduler.shutdown(wait=False)

    return step_down


def _stop_gracefully(scheduler: BaseScheduler) -> Any:
    """A SIGTERM handler (systemd, docker stop): let running jobs finish their unit of work."""

    def handle(_signum: int, _frame: Any) -> None:
        if scheduler.running:
            scheduler.shutdown(wait=True)
        else:
            raise SystemExit(0)

    return handle


def run_scheduler(app: Flask) -> None:
    """Run the jobs until stopped; stand by again whenever leadership is lost."""
    while True:
        leader_connection = _wait_for_leadership(app)
        engine = leader_engine(app) if leader_connection is not None else None
        fence = (
            JobFence(engine, leader_connection)
            if engine is not None and leader_connection is not None
            else None
        )
        scheduler = build_scheduler(app, fence=fence)
        lost = threading.Event()
        if fence is not None:
            fence.on_lost = _stepping_down(scheduler, lost)
            scheduler.add_job(
                _watch_leadership,
                "interval",
                seconds=LEADERSHIP_CHECK_SECONDS,
                args=(fence, fence.on_lost),
                id="_leadership",
            )
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop_gracefully(scheduler))
        log.info("scheduler: running %d jobs: %s", len(REGISTRY), ", ".join(sorted(REGISTRY)))
        try:
            scheduler.start()  # blocks until shutdown
        except (KeyboardInterrupt, SystemExit):
            lost.clear()
        finally:
            if fence is not None:
                fence.close()
            elif leader_connection is not None:
                leader_connection.close()
            if engine is not None:
                engine.dispose()
        if not lost.is_set():
            return


def leadership_figures() -> Iterator[GaugeMetricFamily]:
    """For /metrics: whether some scheduler holds the leader lock (PostgreSQL only).

    SQLite has no election and no lock to see, so the figure is left out there.
    """
    leader = GaugeMetricFamily(
        "hospital_scheduler_leader",
        "1 while a scheduler process holds the leader lock and runs the jobs.",
    )
    if db.session.get_bind().dialect.name != "postgresql":
        return
    held = db.session.execute(
        sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = 0 AND objid = :key AND objsubid = 1 AND granted"
        ),
        {"key": LEADER_LOCK_KEY},
    ).scalar()
    leader.add_metric([], 1 if held else 0)
    yield leader
