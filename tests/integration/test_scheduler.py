"""The scheduler: jobs run in an app context and a unit of work; one leader on PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, current_app, has_app_context

from hospital.db import db, utcnow
from hospital.jobs import REGISTRY, Job
from hospital.notifications.messages import register_template
from hospital.notifications.models import DeliveryStatus, OutboxMessage
from hospital.notifications.service import notify
from hospital.organisation.models import Hospital
from hospital.scheduler import (
    JobFence,
    build_scheduler,
    leader_engine,
    run_job,
    still_leading,
    try_to_lead,
)
from hospital.unit_of_work import after_commit
from tests.support.mail_servers import SmsGateway

register_template("test.scheduler", subject="", body="Your number is {n}")
_probe_numbers = itertools.count(1)


def test_the_real_scheduler_runs_a_job_in_an_app_context_and_commits_its_work(
    app: Flask, committed: None
) -> None:
    committed_run = threading.Event()
    seen: list[tuple[bool, str, datetime]] = []

    def probe(now: datetime) -> None:
        seen.append((has_app_context(), current_app.name, now))
        code = f"PROBE-{next(_probe_numbers)}"
        db.session.add(Hospital(code=code, name_zh="探针", name_en="Probe", timezone="UTC"))
        after_commit(committed_run.set)

    scheduler = build_scheduler(
        app, BackgroundScheduler, jobs=[Job("probe", probe, "interval", {"seconds": 1})]
    )
    scheduler.start()
    try:
        assert committed_run.wait(timeout=30), "the job did not run and commit within 30 s"
    finally:
        scheduler.shutdown(wait=True)

    in_context, app_name, now = seen[0]
    assert in_context and app_name == app.name
    assert now.tzinfo is not None
    with app.app_context():
        codes = db.session.scalars(
            sa.select(Hospital.code).where(Hospital.code.like("PROBE-%"))
        ).all()
        db.session.remove()
    assert len(codes) == len(seen) >= 1


def test_jobs_coalesce_never_overlap_and_are_never_dropped_for_running_late(app: Flask) -> None:
    scheduler = build_scheduler(app, BackgroundScheduler)
    scheduler.start(paused=True)  # job defaults are applied when the scheduler starts
    try:
        delivery = scheduler.get_job("deliver-outbox")
        assert delivery is not None
        assert (delivery.coalesce, delivery.max_instances) == (True, 1)
        assert delivery.misfire_grace_time is None
        assert {job.id for job in scheduler.get_jobs()} == set(REGISTRY)
    finally:
        scheduler.shutdown(wait=False)


def test_a_failing_job_is_rolled_back_and_logged(
    app: Flask, db_session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_now: datetime) -> None:
        db.session.add(Hospital(code="HALF-WRITTEN", name_zh="半", name_en="Half", timezone="UTC"))
        db.session.flush()
        raise RuntimeError("boom")

    run_job(app, Job("broken", broken, "interval", {"seconds": 60}))

    assert "job broken failed" in caplog.text
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Hospital).where(Hospital.code == "HALF-WRITTEN")
    )
    assert count == 0


def test_the_outbox_job_delivers_committed_messages(
    app: Flask, db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hospital = Hospital(code="OUTBOX-JOB", name_zh="医院", name_en="Hospital", timezone="UTC")
    db.session.add(hospital)
    db.session.flush()
    notify(
        hospital_id=hospital.id,
        template="test.scheduler",
        context={"n": "A012"},
        language="zh",
        phone="13800138000",
        now=utcnow(),
    )
    db.session.commit()
    with SmsGateway() as gateway:
        monkeypatch.setitem(app.config, "SMS_URL", gateway.url)
        run_job(app, REGISTRY["deliver-outbox"])
        (received,) = gateway.delivered
    assert received.body == {"to": "13800138000", "text": "Your number is A012"}
    db.session.expire_all()
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert message.status == DeliveryStatus.SENT


def test_only_one_scheduler_leads_and_another_takes_over_when_it_stops(
    app: Flask, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("leader election uses PostgreSQL advisory locks; SQLite runs one scheduler")
    engine = leader_engine(app)
    assert engine is not None
    first, second = engine.connect(), engine.connect()
    try:
        assert try_to_lead(first)
        assert not try_to_lead(second)
        assert still_leading(first) and not still_leading(second)
        first.close()  # the leader's process (or its database session) ends
        assert try_to_lead(second)
        assert still_leading(second)
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_a_job_run_is_logged_only_when_the_job_did_something(app: Flask, caplog: Any) -> None:
    import logging

    caplog.set_level(logging.INFO)
    run_job(app, Job("test.idle", lambda now: 0, "interval", {"seconds": 60}))
    run_job(app, Job("test.busy", lambda now: 3, "interval", {"seconds": 60}))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("hospital", "apsch"))]
    assert lines == ["job test.busy: 3"]


def test_a_job_runs_only_on_the_leader_and_never_in_two_processes_at_once(
    app: Flask, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("leader election uses PostgreSQL advisory locks; SQLite runs one scheduler")
    engine = leader_engine(app)
    assert engine is not None
    old, new = engine.connect(), engine.connect()
    try:
        assert try_to_lead(old)
        stale, standby = JobFence(engine, old), JobFence(engine, new)
        with standby.running("deliver-outbox") as may:
            assert not may  # a standby runs nothing
        with stale.running("deliver-outbox") as may:
            assert may
            # The leader's session ends mid-run (a network cut); the standby takes the lock
            # before the old process notices. The job still running there is not run again.
            old.close()
            assert try_to_lead(new)
            with standby.running("deliver-outbox") as again:
                assert not again
            with standby.running("queueing.release_expired_leases") as other:
                assert other  # other jobs run on the new leader
            with stale.running("queueing.release_expired_leases") as other:
                assert not other  # and no longer on the old one
        with standby.running("deliver-outbox") as may:
            assert may  # the old run ended: its lock went with it
    finally:
        old.close()
        new.close()
        engine.dispose()


def test_each_run_is_logged_at_debug_with_its_start_end_and_process(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import os

    caplog.set_level(logging.DEBUG, logger="hospital.scheduler")
    run_job(app, Job("test.idle", lambda now: 0, "interval", {"seconds": 60}))
    (record,) = [r for r in caplog.records if getattr(r, "fields", None)]
    fields = record.fields  # type: ignore[attr-defined]
    assert (fields["event"], fields["job"], fields["pid"]) == ("job", "test.idle", os.getpid())
    assert fields["started"] <= fields["finished"] and fields["outcome"] == "done"


def test_a_run_that_finds_the_leader_lock_gone_steps_down_at_once(app: Flask, backend: str) -> None:
    if backend == "sqlite":
        pytest.skip("leader election uses PostgreSQL advisory locks; SQLite runs one scheduler")
    engine = leader_engine(app)
    assert engine is not None
    leader = engine.connect()
    lost: list[str] = []
    try:
        assert try_to_lead(leader)
        fence = JobFence(engine, leader, on_lost=lambda: lost.append("lost"))
        with fence.running("deliver-outbox") as may:
            assert may and lost == []
        leader.close()  # the session ends (PostgreSQL restarted, a network cut)
        with fence.running("deliver-outbox") as may:
            assert not may
        assert lost == ["lost"]  # told at the first run, not at the next leadership check
    finally:
        leader.close()
        engine.dispose()


def test_stepping_down_stops_the_jobs_once_however_often_it_is_told(caplog: Any) -> None:
    import logging

    from hospital.scheduler import _stepping_down

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    lost = threading.Event()
    step_down = _stepping_down(scheduler, lost)
    caplog.set_level(logging.ERROR, logger="hospital.scheduler")
    step_down()
    step_down()  # the watch and a job both noticed
    assert lost.is_set() and not scheduler.running
    assert [r.getMessage() for r in caplog.records if r.name == "hospital.scheduler"] == [
        "scheduler: lost the leader lock (database session ended); stopping jobs"
    ]


def test_the_leader_session_is_probed_by_keepalives_so_a_dead_leader_loses_the_lock(
    app: Flask, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("leader election uses PostgreSQL advisory locks; SQLite runs one scheduler")
    from hospital.scheduler import KEEPALIVE_PROBES, KEEPALIVE_SECONDS

    engine = leader_engine(app)
    assert engine is not None
    try:
        with engine.connect() as leader:
            shown = {
                name: leader.execute(sa.text(f"SHOW {name}")).scalar()
                for name in (
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                )
            }
    finally:
        engine.dispose()
    # The test database is reached over TCP, as a scheduler on another machine reaches it.
    assert shown == {
        "tcp_keepalives_idle": str(KEEPALIVE_SECONDS),
        "tcp_keepalives_interval": str(KEEPALIVE_SECONDS),
        "tcp_keepalives_count": str(KEEPALIVE_PROBES),
    }
