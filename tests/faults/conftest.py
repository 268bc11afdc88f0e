"""The fault suite: the production layout (deploy/cluster.py) with real processes, broken on purpose.

One cluster for the whole suite (PostgreSQL, Redis, three web instances, two schedulers, HAProxy),
on free ports under a temporary folder, with the booking rush's hospital: one clinician's
slots released at once and signed-in patients (bench/booking_rush.py's seed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.cluster import Cluster, Ports
from tests.support.mail_servers import SmsGateway, SmtpServer

REQUIRE = os.environ.get("HOSPITAL_REQUIRE_POSTGRES") == "1"
PATIENTS = 240


def _missing() -> list[str]:
    return [tool for tool in ("redis-server", "haproxy") if shutil.which(tool) is None]


@pytest.fixture(scope="session")
def sms_gateway() -> Iterator[SmsGateway]:
    """The SMS gateway the cluster sends to (a test takes it down and brings it back)."""
    with SmsGateway() as gateway:
        yield gateway


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def cluster(
    request: pytest.FixtureRequest, sms_gateway: SmsGateway, smtp_server: SmtpServer
) -> Iterator[Cluster]:
    missing = _missing()
    if missing:
        message = f"the fault suite needs {', '.join(missing)} (Debian packages)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    from bench.booking_rush import SECRET_KEY

    # Not under pytest's private temp folder: PostgreSQL and Redis run as other users.
    base = Path(tempfile.mkdtemp(prefix="hospital-cluster-"))
    os.chmod(base, 0o755)
    cluster = Cluster(
        base,
        Ports.free(),
        workers=1,
        threads=8,
        extra_env={
            "HOSPITAL_SECRET_KEY": SECRET_KEY,
            "HOSPITAL_SIGN_IN_RATE_LIMIT": "10000 per minute",
            "HOSPITAL_SMS_URL": sms_gateway.url,
            "HOSPITAL_SMTP_URL": smtp_server.url,
            "HOSPITAL_MAIL_FROM": "hospital@faults.example",
            # Retries a few seconds apart (not 30 s) and a dead dispatcher's messages handed
            # back after 30 s (not 15 min), so that an outage plays out within a test.
            "HOSPITAL_OUTBOX_RETRY_SECONDS": "2",
            "HOSPITAL_OUTBOX_LEASE_SECONDS": "30",
        },
        # Every job run logged (start, end, process): the leader test counts them.
        scheduler_env={"HOSPITAL_LOG_LEVEL": "DEBUG"},
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if request.session.testsfailed:
            # An intermittent fault is read from the processes' own words: keep them.
            kept = Path(tempfile.mkdtemp(prefix="hospital-cluster-logs-"))
            shutil.copytree(cluster.logs, kept, dirs_exist_ok=True)
            print(f"\nfault suite: the cluster's logs are kept in {kept}")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def rush_hospital(cluster: Cluster) -> dict[str, Any]:
    """One clinician's slots and signed-in patients with session cookies (bench's seed)."""
    from bench.booking_rush import seed

    return seed(cluster.database_url, PATIENTS)
