"""Queue figures for /metrics: how many wait in each queue, and the longest wait so far."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

from hospital.db import db, utcnow
from queueing.models import Ticket, TicketStatus


def queue_figures() -> Iterator[GaugeMetricFamily]:
    """Waiting tickets per queue (by queue id: no names) and the longest current wait."""
    length = GaugeMetricFamily(
        "hospital_queue_waiting", "Tickets waiting in the queue.", labels=["queue_id"]
    )
    longest = GaugeMetricFamily(
        "hospital_queue_longest_wait_seconds",
        "How long the longest-waiting ticket of the queue has waited since arriving.",
        labels=["queue_id"],
    )
    now = utcnow()
    rows = db.session.execute(
        sa.select(Ticket.queue_id, sa.func.count(), sa.func.min(Ticket.arrived_at))
        .where(Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.queue_id)
    ).all()
    for queue_id, count, first in rows:
        length.add_metric([str(queue_id)], count)
        if first is not None and first.tzinfo is None:
            first = first.replace(tzinfo=now.tzinfo)
        longest.add_metric(
            [str(queue_id)], max(0.0, (now - first).total_seconds()) if first else 0.0
        )
    yield length
    yield longest
