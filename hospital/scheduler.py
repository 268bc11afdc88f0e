"""Run the registered jobs: one APScheduler process, leader-elected on PostgreSQL."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from hospital.db import db, utcnow
from hospital.jobs import REGISTRY, Job
from hospital.unit_of_work import unit_of_work

log = logging.getLogger("hospital.scheduler")
LEADER_LOCK_KEY = 7_301_001  # pg advisory lock id; any fixed number shared by all instances


def run_job(app: Flask, job: Job) -> None:
    with app.app_context():
        try:
            with unit_of_work():
                job.func(utcnow())
        except Exception:
            log.exception("job %s failed", job.id)
        finally:
            db.session.remove()


def run_all_once(app: Flask) -> None:
    for job in REGISTRY.values():
        run_job(app, job)


def build_scheduler(app: Flask, scheduler_cls: type = BlockingScheduler) -> object:
    scheduler = scheduler_cls(
        timezone="UTC",
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    for job in REGISTRY.values():
        scheduler.add_job(run_job, job.trigger, args=(app, job), id=job.id, **job.trigger_args)
    return scheduler


def _wait_for_leadership(app: Flask) -> sa.Connection | None:
    """On PostgreSQL, hold an advisory lock so that only one scheduler runs jobs."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return None
        connection = db.engine.connect()
    while True:
        got = connection.execute(sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK_KEY))).scalar()
        connection.commit()
        if got:
            log.info("scheduler: this process is the leader")
            return connection
        log.info("scheduler: another process leads; standing by")
        time.sleep(15)


def run_scheduler(app: Flask) -> None:
    leader_connection = _wait_for_leadership(app)
    scheduler = build_scheduler(app)
    log.info("scheduler: running %d jobs: %s", len(REGISTRY), ", ".join(sorted(REGISTRY)))
    try:
        scheduler.start()  # type: ignore[attr-defined]
    finally:
        if leader_connection is not None:
            leader_connection.close()
