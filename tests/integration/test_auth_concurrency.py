"""Per-phone send limits and the wrong-try limit hold when requests race (real threads)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import OneTimeCode
from hospital.accounts.services import sign_in
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from hospital.organisation.models import Hospital
from hospital.unit_of_work import unit_of_work
from tests.support import factories

PHONE = "13800138000"
THREADS = 8


def _race(app: Any, path: str, body: dict[str, str]) -> list[int]:
    """POST body to path from THREADS clients at once (each request its own unit of work)."""
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def run() -> None:
        client = app.test_client()
        barrier.wait()
        status = client.post(path, json=body).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.fixture
def hospital_id(app: Any, committed: None) -> int:
    with app.app_context():
        with unit_of_work():
            hospital = factories.create_hospital()
        return hospital.id


def test_hourly_send_limit_holds_under_concurrent_requests(
    app: Any, hospital_id: int, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "OTP_SENDS_PER_HOUR", 3)

    statuses = _race(app, "/api/v1/auth/code", {"phone": PHONE})

    assert sorted(statuses) == [200] * 3 + [429] * (THREADS - 3)
    with app.app_context():
        sent = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.recipient == PHONE)
        )
        assert sent == 3


def test_concurrent_wrong_guesses_cannot_exceed_the_try_limit(app: Any, hospital_id: int) -> None:
    with app.app_context(), unit_of_work():
        hospital = db.session.get(Hospital, hospital_id)
        sign_in.request_sign_in_code(hospital, PHONE, language="zh", now=utcnow())

    # The stored code is random: "000000" is right once in a million runs (then a 200 shows).
    statuses = _race(app, "/api/v1/auth/code/verify", {"phone": PHONE, "code": "000000"})

    with app.app_context():
        row = db.session.scalar(sa.select(OneTimeCode).where(OneTimeCode.phone == PHONE))
        assert row is not None
        assert row.attempts == app.config["OTP_MAX_ATTEMPTS"]
        reasons = db.session.scalars(
            sa.select(AuditEntry.detail).where(AuditEntry.action == "sign_in.code")
        ).all()
        compared = [r for r in reasons if r["reason"] == "wrong"]
        assert len(compared) == app.config["OTP_MAX_ATTEMPTS"], "no more guesses than allowed"
    assert statuses == [401] * THREADS
