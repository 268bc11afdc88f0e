"""Two dispatchers running at once never send the same message (PostgreSQL: SKIP LOCKED)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from flask import Flask

from hospital.db import db, utcnow
from hospital.notifications.messages import register_template
from hospital.notifications.models import DeliveryStatus, OutboxMessage
from hospital.notifications.service import deliver_due, notify
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.mail_servers import SmsGateway

register_template("test.concurrency", subject="", body="Message {n}")

MESSAGES = 50


def test_two_dispatchers_send_each_message_exactly_once(
    app: Flask, committed: None, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers: there is no concurrent dispatch to race")
    now = utcnow()
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        for n in range(MESSAGES):
            notify(
                hospital_id=hospital.id,
                template="test.concurrency",
                context={"n": n},
                language="zh",
                phone=f"1380000{n:04d}",
                now=now,
            )

    start = threading.Barrier(2)
    sent_by: dict[str, int] = {}
    errors: list[BaseException] = []

    def dispatcher(name: str) -> None:
        total = 0
        try:
            with app.app_context():
                start.wait(timeout=30)
                while True:  # small batches so that the two dispatchers interleave
                    with unit_of_work():
                        sent = deliver_due(now=now, limit=3)
                    if sent == 0:
                        break
                    total += sent
                db.session.remove()
        except BaseException as exc:  # surfaced below: a thread's exception must fail the test
            errors.append(exc)
        sent_by[name] = total

    with SmsGateway(secret="s") as gateway:
        monkeypatch.setitem(app.config, "SMS_URL", gateway.url)
        monkeypatch.setitem(app.config, "SMS_SECRET", "s")
        threads = [threading.Thread(target=dispatcher, args=(n,)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        delivered = gateway.delivered

    assert errors == []
    receipts = Counter(request.body["to"] for request in delivered)
    assert len(receipts) == MESSAGES
    assert set(receipts.values()) == {1}
    assert sum(sent_by.values()) == MESSAGES
    print(f"\ndispatcher a sent {sent_by['a']}, b sent {sent_by['b']}")
    with app.app_context():
        statuses = Counter(m.status for m in db.session.query(OutboxMessage))
        attempts = {m.attempts for m in db.session.query(OutboxMessage)}
        db.session.remove()
    assert statuses == {DeliveryStatus.SENT: MESSAGES}
    assert attempts == {1}
