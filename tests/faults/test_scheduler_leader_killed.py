"""kill -9 the scheduler leader: the standby takes the leader lock and runs the jobs."""

from __future__ import annotations

import json
import signal
import time

import requests

from deploy.cluster import SCHEDULER_COUNT, Cluster

TAKEOVER_BOUND_S = 30
LEADS = "scheduler: this process is the leader"


def _state(cluster: Cluster, index: int) -> str:
    """The scheduler's latest word on leadership, from its JSON log."""
    last = ""
    path = cluster.logs / f"scheduler{index + 1}.log"
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line).get("message", "")
        if message.startswith("scheduler:") and (
            message == LEADS or "standing by" in message or "lost the leader lock" in message
        ):
            last = message
    return last


def _leaders(cluster: Cluster) -> list[int]:
    return [i for i in range(SCHEDULER_COUNT) if _state(cluster, i) == LEADS]


def _leader_metric(cluster: Cluster) -> float:
    text = requests.get(cluster.web_url(0) + "/metrics", timeout=15).text
    for line in text.splitlines():
        if line.startswith("hospital_scheduler_leader "):
            return float(line.split()[1])
    return -1.0


def test_standby_takes_over_when_the_leader_is_killed(cluster: Cluster) -> None:
    deadline = time.monotonic() + TAKEOVER_BOUND_S
    while len(_leaders(cluster)) != 1:  # after the other faults the election may be under way
        assert time.monotonic() < deadline, [_state(cluster, i) for i in range(SCHEDULER_COUNT)]
        time.sleep(0.5)  # polling the processes' logs, not papering over a race
    (leader,) = _leaders(cluster)
    standby = 1 - leader
    cluster.kill(f"scheduler{leader + 1}", signal.SIGKILL)
    killed = time.monotonic()
    while _state(cluster, standby) != LEADS:
        assert time.monotonic() - killed < TAKEOVER_BOUND_S, _state(cluster, standby)
        time.sleep(0.5)  # as above
    print(f"standby took over {time.monotonic() - killed:.1f} s after the leader was killed")
    assert _leader_metric(cluster) == 1.0  # exactly one session holds the leader lock
    cluster.start_scheduler(leader)  # back as the standby
