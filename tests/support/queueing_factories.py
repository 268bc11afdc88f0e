"""Build queues, counters and tickets for queueing tests; run real servers for live tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import requests

from hospital.organisation.models import Hospital, ServicePoint
from queueing.models import Counter, ServiceQueue
from queueing.services import counters, issuing, queues
from tests.support.postgres_cluster import free_port
from tests.support.servers import serving


def open_queue(point: ServicePoint, *, now: datetime, **settings: Any) -> ServiceQueue:
    queue = queues.open_queue(
        actor=None, hospital_id=point.hospital_id, service_point_id=point.id, now=now
    )
    for key, value in settings.items():
        setattr(queue, key, value)
    return queue


def create_counter(point: ServicePoint, code: str = "1") -> Counter:
    return counters.create_counter(
        actor=None, hospital_id=point.hospital_id, service_point_id=point.id, code=code
    )


def walk_in(hospital: Hospital, point: ServicePoint, *, now: datetime, **kw: Any) -> Any:
    return issuing.issue_walk_in(
        actor=None, hospital_id=hospital.id, service_point_id=point.id, now=now, **kw
    )


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextmanager
def hospital_server(
    database_url: str,
    *,
    workers: int = 1,
    threads: int = 8,
    extra_env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Run `hospital serve` on a free port; yield its base URL; stop it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "HOSPITAL_DATABASE_URL": database_url,
        "HOSPITAL_SECRET_KEY": "test-secret-key-for-live-servers-0123456789",
        "HOSPITAL_RATELIMIT_ENABLED": "false",
        "HOSPITAL_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    with tempfile.TemporaryFile() as log:
        yield from _serve(env, port, log, workers=workers, threads=threads, extra_args=extra_args)


def _serve(
    env: dict[str, str],
    port: int,
    log: Any,
    *,
    workers: int,
    threads: int,
    extra_args: tuple[str, ...],
) -> Iterator[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hospital",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    with serving(process, f"http://127.0.0.1:{port}", log, probe="/api/openapi.json") as base:
        yield base


def read_events(response: requests.Response) -> Iterator[tuple[str, str]]:
    """Yield (event, data) pairs from a streaming SSE response."""
    event, data = "message", []
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif raw.startswith("event:"):
            event = raw[6:].strip()
        elif raw.startswith("data:"):
            data.append(raw[5:].strip())
