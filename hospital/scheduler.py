"""Run the registered jobs: one APScheduler process, leader-elected on PostgreSQL.

Every web instance may start `hospital scheduler`; on PostgreSQL only the holder of an advisory
lock runs jobs, the others stand by and take over when the leader's database session ends.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
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
STANDBY_SECONDS = 15
LEADERSHIP_CHECK_SECONDS = 30

# coalesce: a job that fell behind runs once, not once per missed tick.
# max_instances=1: a slow run is never overlapped by the next one.
# misfire_grace_time=None: a run that starts late (pool busy, process paused) still runs;
# a bounded grace time silently drops runs in a burst, and every job is a catch-up sweep
# over `now`, so running late is always right.
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


def run_job(app: Flask, job: Job) -> None:
    """Run one job in its own app context and unit of work; log, never raise, its failure."""
    with app.app_context():
        try:
            with unit_of_work():
                done = job.func(utcnow())
            if done:
                log.info("job %s: %s", job.id, done)
        except Exception:
            log.exception("job %s failed", job.id)
        finally:
            db.session.remove()


def run_all_once(app: Flask) -> None:
    for job in REGISTRY.values():
        run_job(app, job)


def build_scheduler(
    app: Flask,
    scheduler_cls: type[BaseScheduler] = BlockingScheduler,
    jobs: Iterable[Job] | None = None,
) -> BaseScheduler:
    """A scheduler holding every registered job (or the jobs given), not yet started."""
    scheduler = scheduler_cls(timezone="UTC", job_defaults=JOB_DEFAULTS)
    for job in REGISTRY.values() if jobs is None else jobs:
        scheduler.add_job(
            run_job, job.trigger, args=(app, job), id=job.id, name=job.id, **job.trigger_args
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
    still alive; closing an unpooled one ends the session and hands leadership over.
    """
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return None
        return sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)


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


def _watch_leadership(
    connection: sa.Connection, scheduler: BaseScheduler, lost: threading.Event
) -> None:
    if still_leading(connection):
        return
    log.error("scheduler: lost the leader lock (database session ended); stopping jobs")
    lost.set()
    scheduler.shutdown(wait=False)


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
        scheduler = build_scheduler(app)
        lost = threading.Event()
        if leader_connection is not None:
            scheduler.add_job(
                _watch_leadership,
                "interval",
                seconds=LEADERSHIP_CHECK_SECONDS,
                args=(leader_connection, scheduler, lost),
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
            if leader_connection is not None:
                leader_connection.close()
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
