"""The SMS gateway and the SMTP server go away while messages wait in the outbox.

The cluster's schedulers deliver the outbox (the deliver-outbox job, on the leader only) to a
real local SMTP server (aiosmtpd) and the local HTTP SMS gateway, which behaves as real gateways
do: a message repeated with an Idempotency-Key it already delivered is answered 200 and not
sent to the phone again. Every message must reach its recipient exactly once.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from deploy.cluster import Cluster
from hospital.notifications.messages import register_template
from hospital.notifications.models import DeliveryStatus, OutboxMessage
from hospital.notifications.service import message_key, notify
from tests.faults.schedulers import wait_for_one_leader
from tests.support.mail_servers import SmsGateway, SmsRequest, SmtpServer

register_template(
    "test.faults_notice", subject="Notice {n}", body="Notice {n}: please come to room 3."
)
MESSAGES = 12
WAIT_S = 300  # generous: a loaded 2-core machine; the loops below poll, they assert no speed


@pytest.fixture(scope="module")
def app(cluster: Cluster, rush_hospital: dict[str, Any]) -> Iterator[Flask]:
    """An app on the cluster's database, for writing messages and reading the outbox."""
    from hospital.app import create_app
    from hospital.db import db

    app = create_app({"DATABASE_URL": cluster.database_url})
    yield app
    with app.app_context():
        db.engine.dispose()


def enqueue(app: Flask, phones: list[str], emails: list[str]) -> list[int]:
    """Write the messages as a service would: outbox rows in one committed transaction."""
    from hospital.db import db, utcnow
    from hospital.organisation.models import Hospital
    from hospital.unit_of_work import unit_of_work

    with app.app_context():
        with unit_of_work():
            hospital_id = db.session.scalars(sa.select(Hospital.id).order_by(Hospital.id)).first()
            assert hospital_id is not None
            written = []
            for n, phone in enumerate(phones):
                written += notify(
                    hospital_id=hospital_id,
                    template="test.faults_notice",
                    context={"n": n},
                    language="en",
                    phone=phone,
                    email=emails[n] if n < len(emails) else None,
                    now=utcnow(),
                )
        ids = [m.id for m in written]
        db.session.remove()
    return ids


def outbox(app: Flask, ids: list[int]) -> list[OutboxMessage]:
    from hospital.db import db

    with app.app_context():
        rows = list(
            db.session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def wait_until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(0.5)  # polling the database and the servers, not papering over a race


def to(requests: list[SmsRequest], phones: list[str]) -> list[SmsRequest]:
    return [r for r in requests if isinstance(r.body, dict) and r.body.get("to") in phones]


def test_an_outage_of_both_gateways_loses_and_repeats_nothing(
    app: Flask, cluster: Cluster, sms_gateway: SmsGateway, smtp_server: SmtpServer
) -> None:
    phones = [f"1390000{n:04d}" for n in range(MESSAGES)]
    emails = [f"patient{n}@faults.example" for n in range(MESSAGES)]
    sms_gateway.down()
    smtp_server.down()
    try:
        ids = enqueue(app, phones, emails)
        assert len(ids) == 2 * MESSAGES
        # The dispatcher tries, fails, and backs off: every message has failed at least twice
        # (an attempt is counted when it is claimed; a third claim follows a second failure).
        wait_until(
            "two failed attempts per message",
            lambda: all(m.attempts >= 3 and m.last_error for m in outbox(app, ids)),
        )
        failed = outbox(app, ids)
        assert {m.status for m in failed} == {DeliveryStatus.PENDING}
        assert all(m.next_attempt_at > m.created_at for m in failed)
        errors = {m.last_error.split(":")[0] for m in failed}
        assert errors == {"DeliveryError"}, errors
        assert any("SMS gateway unreachable" in m.last_error for m in failed)
        assert any("SMTP delivery failed" in m.last_error for m in failed)
        logs = "".join(
            (cluster.logs / f"scheduler{i}.log").read_text(errors="replace") for i in (1, 2)
        )
        assert f"outbox message {ids[0]} (sms) attempt 1 failed, retrying at" in logs
    finally:
        # Back: and the first answers the gateway sends are lost on the way (it took the
        # messages; the dispatcher cannot know), so those are sent again with the same key.
        sms_gateway.drop_replies(3)
        sms_gateway.up()
        smtp_server.up()

    wait_until(
        "every message sent",
        lambda: {m.status for m in outbox(app, ids)} == {DeliveryStatus.SENT},
    )
    sent = outbox(app, ids)
    assert all(m.attempts >= 3 for m in sent)  # two failures at least, then the success

    # Each phone got its SMS once; a repeat reached the gateway but not the phone.
    requests = to(sms_gateway.requests, phones)
    delivered = to(sms_gateway.delivered, phones)
    assert sorted(r.body["to"] for r in delivered) == phones
    assert {r.key for r in requests} == {message_key(m) for m in sent if m.recipient in phones}
    repeats = [r for r in requests if r.duplicate]
    assert repeats, "the lost answers were retried"
    assert Counter(r.key for r in requests if r.status == 200)[repeats[0].key] == 2

    # Each mailbox got its e-mail once, with the message's stable Message-ID.
    mails = [m for m in smtp_server.messages if m["To"] in emails]
    assert sorted(m["To"] for m in mails) == sorted(emails)
    assert len({m["Message-ID"] for m in mails}) == MESSAGES
    print(
        f"\nattempts per message: {Counter(m.attempts for m in sent)}; lost answers {len(repeats)}"
    )


def test_a_dispatcher_killed_between_send_and_mark_sends_nothing_twice(
    app: Flask, cluster: Cluster, sms_gateway: SmsGateway
) -> None:
    phone = "13900009999"
    leader = wait_for_one_leader(cluster)
    sms_gateway.hold_replies()  # the gateway takes the message and has not answered yet ...
    try:
        (message_id,) = enqueue(app, [phone], [])
        wait_until("the gateway has the message", lambda: bool(to(sms_gateway.requests, [phone])))
        cluster.kill(f"scheduler{leader + 1}", signal.SIGKILL)  # ... when the dispatcher dies
    finally:
        sms_gateway.release_replies()
    cluster.start_scheduler(leader)  # back, as the standby

    # The standby takes over; once the dead dispatcher's lease has run out it sends the message
    # again, with the same key: the gateway answers 200 and does not send it twice.
    wait_until(
        "the message marked sent",
        lambda: outbox(app, [message_id])[0].status == DeliveryStatus.SENT,
    )
    (message,) = outbox(app, [message_id])
    requests = to(sms_gateway.requests, [phone])
    assert len(requests) >= 2 and {r.key for r in requests} == {message_key(message)}
    assert len(to(sms_gateway.delivered, [phone])) == 1
    assert message.attempts == len(requests)
