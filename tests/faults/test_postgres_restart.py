"""PostgreSQL restarts while the instances run: 503 with Retry-After, /readyz red, then back by itself."""

from __future__ import annotations

import time
from typing import Any

import requests

from deploy.cluster import WEB_COUNT, Cluster

RECOVERY_BOUND_S = 30  # generous on a loaded 2-core machine; the target is 10 s


def _availability(base: str, hospital: dict[str, Any]) -> requests.Response:
    days = hospital["days"]
    return requests.get(
        base + f"/api/v1/scheduling/availability?clinician_id={hospital['clinician_id']}"
        f"&from={days[0].isoformat()}&to={days[-1].isoformat()}",
        headers={"Cookie": hospital["cookies"][0][0], "Accept": "application/json"},
        timeout=15,
    )


def test_database_restart_answers_503_then_recovers_without_restarting_instances(
    cluster: Cluster, rush_hospital: dict[str, Any]
) -> None:
    pids = {i: cluster.pid(f"web{i + 1}") for i in range(WEB_COUNT)}
    assert _availability(cluster.url, rush_hospital).status_code == 200
    cluster.stop_postgres("fast")
    try:
        for i in range(WEB_COUNT):
            direct = cluster.web_url(i)
            assert requests.get(direct + "/readyz", timeout=15).status_code == 503
            refused = _availability(direct, rush_hospital)
            assert refused.status_code == 503, refused.text[:300]
            assert refused.json()["code"] == "database_unavailable"
            assert int(refused.headers["Retry-After"]) > 0
        through_proxy = _availability(cluster.url, rush_hospital)
        assert through_proxy.status_code == 503
        assert int(through_proxy.headers["Retry-After"]) > 0
    finally:
        cluster.start_postgres()
    back = time.monotonic()
    deadline = back + RECOVERY_BOUND_S
    while _availability(cluster.url, rush_hospital).status_code != 200:
        assert time.monotonic() < deadline, "service did not come back by itself"
        time.sleep(0.2)  # polling for recovery, not papering over a race
    for i in range(WEB_COUNT):
        while _availability(cluster.web_url(i), rush_hospital).status_code != 200:
            assert time.monotonic() < deadline, f"web{i + 1} did not come back by itself"
            time.sleep(0.2)  # as above
    print(f"recovered {time.monotonic() - back:.1f} s after PostgreSQL accepted connections")
    assert {i: cluster.pid(f"web{i + 1}") for i in range(WEB_COUNT)} == pids  # none restarted
