"""kill -9 the scheduler leader: the standby takes the leader lock and runs the jobs."""

from __future__ import annotations

import signal
import time

import requests

from deploy.cluster import Cluster
from tests.faults.schedulers import LEADS, state, wait_for_one_leader

TAKEOVER_BOUND_S = 30


def _leader_metric(cluster: Cluster) -> float:
    text = requests.get(cluster.web_url(0) + "/metrics", timeout=15).text
    for line in text.splitlines():
        if line.startswith("hospital_scheduler_leader "):
            return float(line.split()[1])
    return -1.0


def test_standby_takes_over_when_the_leader_is_killed(cluster: Cluster) -> None:
    leader = wait_for_one_leader(cluster, TAKEOVER_BOUND_S)
    standby = 1 - leader
    cluster.kill(f"scheduler{leader + 1}", signal.SIGKILL)
    killed = time.monotonic()
    while state(cluster, standby) != LEADS:
        assert time.monotonic() - killed < TAKEOVER_BOUND_S, state(cluster, standby)
        time.sleep(0.5)  # as above
    print(f"standby took over {time.monotonic() - killed:.1f} s after the leader was killed")
    assert _leader_metric(cluster) == 1.0  # exactly one session holds the leader lock
    cluster.start_scheduler(leader)  # back as the standby
