"""What the cluster's schedulers say about leadership, read from their JSON logs."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from deploy.cluster import SCHEDULER_COUNT, Cluster

LEADS = "scheduler: this process is the leader"


def state(cluster: Cluster, index: int) -> str:
    """The scheduler's latest word on leadership."""
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


def led_since(cluster: Cluster, index: int, since: datetime) -> bool:
    """Whether the scheduler said it took the leader lock at or after `since`.

    The latest word alone can be stale: a process whose lock went with its database session
    says so only when it next checks (and a killed process says nothing at all).
    """
    path = cluster.logs / f"scheduler{index + 1}.log"
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{") or LEADS not in line:
            continue
        entry = json.loads(line)
        if entry.get("message") == LEADS and _time(entry["ts"]) >= since:
            return True
    return False


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def leaders(cluster: Cluster) -> list[int]:
    return [i for i in range(SCHEDULER_COUNT) if state(cluster, i) == LEADS]


def wait_for_one_leader(cluster: Cluster, timeout: float = 60) -> int:
    """The index of the one leading scheduler (after other faults an election may be under way)."""
    deadline = time.monotonic() + timeout
    while len(leaders(cluster)) != 1:
        assert time.monotonic() < deadline, [state(cluster, i) for i in range(SCHEDULER_COUNT)]
        time.sleep(0.5)  # polling the processes' logs, not papering over a race
    return leaders(cluster)[0]


def job_runs(cluster: Cluster) -> list[dict[str, Any]]:
    """Every job run both schedulers logged: job, started, finished (datetimes), pid."""
    runs = []
    for index in range(SCHEDULER_COUNT):
        path = cluster.logs / f"scheduler{index + 1}.log"
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith('{"') or '"event":"job"' not in line:
                continue
            run = json.loads(line)
            run["started"] = datetime.fromisoformat(run["started"])
            run["finished"] = datetime.fromisoformat(run["finished"])
            runs.append(run)
    return sorted(runs, key=lambda run: run["started"])
