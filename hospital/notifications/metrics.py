"""The outbox's figures for /metrics: how much waits to be delivered, and for how long."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

from hospital.db import db, utcnow
from hospital.notifications.models import DeliveryStatus, OutboxMessage


def outbox_figures() -> Iterator[GaugeMetricFamily]:
    """Pending messages by channel, and the age of the oldest one."""
    backlog = GaugeMetricFamily(
        "hospital_outbox_pending", "Messages waiting to be delivered.", labels=["channel"]
    )
    oldest = GaugeMetricFamily(
        "hospital_outbox_oldest_pending_seconds",
        "Age of the oldest message waiting to be delivered (0: none).",
        labels=["channel"],
    )
    now = utcnow()
    rows = db.session.execute(
        sa.select(
            OutboxMessage.channel,
            sa.func.count(),
            sa.func.min(OutboxMessage.created_at),
        )
        .where(OutboxMessage.status == DeliveryStatus.PENDING)
        .group_by(OutboxMessage.channel)
    ).all()
    for channel, count, first in rows:
        label = getattr(channel, "value", str(channel))
        backlog.add_metric([label], count)
        if first is not None and first.tzinfo is None:
            first = first.replace(tzinfo=now.tzinfo)
        oldest.add_metric([label], max(0.0, (now - first).total_seconds()) if first else 0.0)
    yield backlog
    yield oldest
