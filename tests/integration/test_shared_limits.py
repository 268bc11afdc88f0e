"""Per-address limits counted in a real Redis, shared by two `hospital serve` instances.

And what happens while Redis is down: sign-in and code sending fail closed (503 with
Retry-After), everything else keeps working. See hospital/rate_limits.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.support.redis_server import RedisServer, find_redis_server
from tests.support.servers import serving

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 4
REQUIRE = os.environ.get("HOSPITAL_REQUIRE_POSTGRES") == "1"  # CI: every real component


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if find_redis_server() is None:
        message = "redis-server not found: install Debian's redis-server"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def instances(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two instances on one SQLite database, counting their limits in Redis."""
    folder = tmp_path_factory.mktemp("shared-limits")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPITAL_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HOSPITAL_SECRET_KEY="s" * 40,
        HOSPITAL_INSTANCE_PATH=str(folder),
        HOSPITAL_DATABASE_URL="sqlite:///" + str(folder / "hospital.db"),
        HOSPITAL_REDIS_URL=redis_server.url,
        HOSPITAL_SIGN_IN_RATE_LIMIT=f"{LIMIT} per minute",
        HOSPITAL_SEND_CODE_RATE_LIMIT=f"{LIMIT} per minute",
    )
    subprocess.run(
        [sys.executable, "-m", "hospital", "db", "upgrade"],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with ExitStack() as stack:
        bases = []
        for name in ("a", "b"):
            port = _free_port()
            log = stack.enter_context((folder / f"{name}.log").open("w+b"))
            process = subprocess.Popen(
                [sys.executable, "-m", "hospital", "serve", "--bind", f"127.0.0.1:{port}"]
                + ["--workers", "2", "--threads", "2", "--stream-slots", "1"],
                env=env,
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            bases.append(stack.enter_context(serving(process, f"http://127.0.0.1:{port}", log)))
        yield bases


def _sign_in(base: str) -> requests.Response:
    return requests.post(
        base + "/api/v1/auth/password",
        json={"login": "13800138000", "password": "not the password"},
        timeout=10,
    )


def _send_code(base: str) -> requests.Response:
    return requests.post(base + "/api/v1/auth/code", json={"phone": "13800138000"}, timeout=10)


@pytest.mark.parametrize("attempt", [_sign_in, _send_code], ids=["sign_in", "send_code"])
def test_one_allowance_per_address_across_instances_and_workers(
    instances: list[str], attempt: object
) -> None:
    answers = [attempt(instances[i % 2]) for i in range(LIMIT)]  # type: ignore[operator]
    assert all(a.status_code not in (429, 500, 503) for a in answers), [
        (a.status_code, a.text[:200]) for a in answers
    ]
    for base in instances:  # both instances now refuse: they counted together
        refused = attempt(base)  # type: ignore[operator]
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0


def test_redis_down_sign_in_and_code_sending_fail_closed_the_rest_stays_up(
    instances: list[str], redis_server: RedisServer
) -> None:
    redis_server.kill()
    try:
        for base in instances:
            for attempt in (_sign_in, _send_code):
                refused = attempt(base)
                assert refused.status_code == 503
                assert refused.headers["Retry-After"] == "10"
                assert refused.json()["code"] == "limits_unavailable"
            assert requests.get(base + "/healthz", timeout=10).status_code == 200
            assert requests.get(base + "/readyz", timeout=10).status_code == 200
            assert requests.get(base + "/api/openapi.json", timeout=10).status_code == 200
    finally:
        redis_server.start()
    # Back: the first request reconnects (a fresh Redis has no counts left).
    for base in instances:
        answers = [_sign_in(base).status_code for _ in range(2)]
        assert answers[-1] not in (429, 500, 503), answers


def _healthz_count(base: str) -> float:
    text = requests.get(base + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("hospital_http_request_duration_seconds_count{") and (
            'endpoint="web.healthz"' in line and 'status="200"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_add_up_every_worker_of_an_instance(instances: list[str]) -> None:
    base = instances[1]
    before = _healthz_count(base)
    for _ in range(12):  # new connections: the kernel spreads them over both workers
        assert requests.get(base + "/healthz", timeout=10).status_code == 200
    assert _healthz_count(base) == before + 12
