"""kill -9 the scheduler leader: the standby takes the leader lock and runs the jobs, and no
job runs twice, neither at once nor more often than its period, across the two processes."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from deploy.cluster import Cluster
from hospital.notifications.jobs import JOBS as OUTBOX_JOBS
from queueing.jobs import JOBS as QUEUE_JOBS
from scheduling.jobs import JOBS as SCHEDULING_JOBS
from tests.faults.schedulers import LEADS, job_runs, led_since, state, wait_for_one_leader

TAKEOVER_BOUND_S = 30
WAIT_S = 300  # generous; the loops poll, they assert no speed
# The jobs that run often enough to be seen several times in a few minutes.
PERIODS = {
    job.id: timedelta(**job.trigger_args).total_seconds()
    for job in (*OUTBOX_JOBS, *QUEUE_JOBS, *SCHEDULING_JOBS)
    if job.trigger == "interval" and timedelta(**job.trigger_args) <= timedelta(minutes=1)
}


def _leader_metric(cluster: Cluster) -> float:
    text = requests.get(cluster.web_url(0) + "/metrics", timeout=15).text
    for line in text.splitlines():
        if line.startswith("hospital_scheduler_leader "):
            return float(line.split()[1])
    return -1.0


def _runs_by(cluster: Cluster, pid: int | None, since: datetime) -> int:
    return sum(
        1
        for run in job_runs(cluster)
        if run["job"] == "deliver-outbox" and run["pid"] == pid and run["started"] >= since
    )


def _tails(cluster: Cluster) -> str:
    """The schedulers' last words other than job runs (for a failure's message)."""
    tails = []
    for i in (1, 2):
        lines = (cluster.logs / f"scheduler{i}.log").read_text(errors="replace").splitlines()
        kept = [line[:300] for line in lines if '"event":"job"' not in line]
        tails.append(f"scheduler{i}: " + " | ".join(kept[-8:]))
    return "\n".join(tails)


def _wait(what: str, condition: Any, cluster: Cluster | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"not within {WAIT_S} s: {what}\n" + (_tails(cluster) if cluster else "")
            )
        time.sleep(0.5)  # polling the processes' logs, not papering over a race


def test_standby_takes_over_when_the_leader_is_killed_and_no_job_runs_twice(
    cluster: Cluster,
) -> None:
    wait_for_one_leader(cluster, WAIT_S)  # after the other faults an election may be under way
    since = datetime.now(UTC)
    pids = [cluster.pid(f"scheduler{i + 1}") for i in range(2)]
    # The leader is the process that runs the jobs (its log says so too).
    _wait(
        "a scheduler runs the jobs",
        lambda: any(_runs_by(cluster, p, since) >= 2 for p in pids),
        cluster,
    )
    leader = next(i for i, p in enumerate(pids) if _runs_by(cluster, p, since) >= 2)
    standby = 1 - leader
    old_pid, new_pid = pids[leader], pids[standby]
    assert state(cluster, leader) == LEADS

    killed_at = datetime.now(UTC)
    cluster.kill(f"scheduler{leader + 1}", signal.SIGKILL)
    killed = time.monotonic()
    # The standby's own word that it took the lock after the kill (not an older claim).
    while not led_since(cluster, standby, killed_at):
        assert time.monotonic() - killed < TAKEOVER_BOUND_S, _tails(cluster)
        time.sleep(0.5)  # as above
    print(f"standby took over {time.monotonic() - killed:.1f} s after the leader was killed")
    assert _leader_metric(cluster) == 1.0  # exactly one session holds the leader lock
    took_over = datetime.now(UTC)
    _wait(
        "the new leader runs the jobs",
        lambda: _runs_by(cluster, new_pid, took_over) >= 3,
        cluster,
    )
    until = datetime.now(UTC)
    cluster.start_scheduler(leader)  # back as the standby

    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in job_runs(cluster):
        if since <= run["started"] <= until:
            runs[run["job"]].append(run)
    assert {run["pid"] for run in runs["deliver-outbox"]} == {old_pid, new_pid}
    window = (until - since).total_seconds()
    for job, period in PERIODS.items():
        # Never at once: each run ended before the next one (in either process) started.
        for earlier, later in zip(runs[job], runs[job][1:], strict=False):
            assert earlier["finished"] <= later["started"], (job, earlier, later)
        # Never more often than its period: the old leader's runs up to the kill, then the new
        # leader's, whose timers start when it takes over (one run of slack for a late start).
        assert len(runs[job]) <= window / period + 2, (job, len(runs[job]), window)
    print(f"runs in {window:.0f} s: " + ", ".join(f"{j} {len(runs[j])}" for j in sorted(PERIODS)))
