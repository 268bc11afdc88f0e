"""Talking to a slow gateway never holds the database: no transaction is open while sending."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from hospital.db import db, utcnow
from hospital.notifications.channels import OutgoingMessage
from hospital.notifications.messages import register_template
from hospital.notifications.models import Channel, DeliveryStatus, OutboxMessage
from hospital.notifications.service import deliver_due, notify
from hospital.unit_of_work import unit_of_work
from tests.support import factories

register_template("test.locks", subject="", body="Hello {name}")


def _write_from_another_connection(message_id: int) -> None:
    """Update the message from a second connection, giving up after a second if it is locked."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.connection.driver_connection.execute("PRAGMA busy_timeout = 1000")
        else:
            connection.execute(sa.text("SET lock_timeout = '1s'"))
        connection.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(last_error="written while sending")
        )
        connection.commit()


def test_other_writers_proceed_while_a_message_is_being_sent(app: Flask, committed: None) -> None:
    now = utcnow()
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        (message,) = notify(
            hospital_id=hospital.id,
            template="test.locks",
            context={"name": "张三"},
            language="zh",
            phone="13800138000",
            now=now,
        )
        message_id = message.id
    outcomes: list[str] = []

    class SlowGateway:
        def send(self, outgoing: OutgoingMessage) -> None:
            try:
                _write_from_another_connection(message_id)
            except sa.exc.OperationalError as exc:
                outcomes.append(f"blocked: {exc.orig}")
            else:
                outcomes.append("written")

    with app.app_context():
        with unit_of_work():
            assert deliver_due(now=now, senders={Channel.SMS: SlowGateway()}) == 1
        stored = db.session.get(OutboxMessage, message_id)
        assert stored is not None
        assert (stored.status, stored.attempts) == (DeliveryStatus.SENT, 1)
        db.session.remove()
    assert outcomes == ["written"]
