"""Redis down under the cluster: sign-in and code sending fail closed, booking goes on."""

from __future__ import annotations

import signal
from typing import Any

import requests

from deploy.cluster import Cluster


def test_redis_down_refuses_sign_in_with_retry_after_and_keeps_booking_pages_up(
    cluster: Cluster, rush_hospital: dict[str, Any]
) -> None:
    cluster.kill("redis", signal.SIGKILL)
    try:
        for path, body in (
            ("/api/v1/auth/password", {"login": "13500000001", "password": "wrong one"}),
            ("/api/v1/auth/code", {"phone": "13500000001"}),
        ):
            refused = requests.post(cluster.url + path, json=body, timeout=15)
            assert refused.status_code == 503, refused.text[:300]
            assert refused.json()["code"] == "limits_unavailable"
            assert refused.headers["Retry-After"] == "10"
        days = rush_hospital["days"]
        shown = requests.get(
            cluster.url
            + f"/api/v1/scheduling/availability?clinician_id={rush_hospital['clinician_id']}"
            f"&from={days[0].isoformat()}&to={days[-1].isoformat()}",
            headers={"Cookie": rush_hospital["cookies"][0][0]},
            timeout=15,
        )
        assert shown.status_code == 200
    finally:
        cluster.start_redis()
    answers = [
        requests.post(
            cluster.url + "/api/v1/auth/password",
            json={"login": "13500000001", "password": "wrong one"},
            timeout=15,
        ).status_code
        for _ in range(3)
    ]
    assert answers[-1] == 401, answers  # counted in Redis again: a plain wrong password
