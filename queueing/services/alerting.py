"""Staff alerts: each service point's thresholds, and today's alerts for the queues staff work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.zones import local_date, zone_for
from queueing import alerts
from queueing.models import AlertThresholds
from queueing.services.queues import (
    active_service_point,
    get_hospital,
    may_work_at,
    open_queues_on,
    require_may_work,
)
from queueing.snapshots import alerts_of, load_state

MESSAGES = {
    alerts.BOOKED_WAITING: _l("%(code)s booked and checked in, waiting %(minutes)s minutes."),
    alerts.LONGEST_WAIT: _l("Longest wait is %(minutes)s minutes (%(code)s)."),
    alerts.PAUSE_OVERRUN: _l("Counter %(counter)s is %(minutes)s minutes later than it said."),
    alerts.CALLED_NOT_COMING: _l("%(code)s was called %(calls)s times and has not come."),
}


def message(alert: dict[str, Any]) -> str:
    return str(str(MESSAGES[alert["kind"]]) % alert["detail"])


def thresholds_for(hospital_id: int, service_point_id: int) -> alerts.Thresholds:
    row = db.session.scalar(
        sa.select(AlertThresholds).where(
            AlertThresholds.hospital_id == hospital_id,
            AlertThresholds.service_point_id == service_point_id,
        )
    )
    if row is None:
        return alerts.Thresholds()
    return alerts.Thresholds(
        row.booked_wait_minutes,
        row.longest_wait_minutes,
        row.pause_overrun_minutes,
        row.calls_without_coming,
    )


def set_thresholds(
    *, actor: Account, hospital_id: int, service_point_id: int, now: datetime, **values: int
) -> alerts.Thresholds:
    """Set a service point's alert thresholds (audited)."""
    point = active_service_point(hospital_id, service_point_id)
    require_may_work(
        actor=actor, kind=point.kind, service_point_id=point.id, action="alert_thresholds"
    )
    row = db.session.scalar(
        sa.select(AlertThresholds)
        .where(AlertThresholds.service_point_id == point.id)
        .with_for_update()
    )
    if row is None:
        row = AlertThresholds(hospital_id=hospital_id, service_point_id=point.id)
        db.session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.flush()
    record(
        action="queue.alert_thresholds",
        actor=actor,
        object_type="service_point",
        object_id=str(point.id),
        detail=dict(values),
    )
    return thresholds_for(hospital_id, point.id)


def staff_alerts(*, actor: Account, now: datetime) -> list[dict[str, Any]]:
    """Today's alerts on every open queue whose service point the actor's roles work."""
    hospital = get_hospital(actor.hospital_id)
    found: list[dict[str, Any]] = []
    for point, queue in open_queues_on(hospital.id, local_date(now, zone_for(hospital))):
        if not may_work_at(actor=actor, point=point):
            continue
        state = load_state(queue.id, now=now)
        if state is None:
            continue
        for alert in alerts_of(state):
            found.append(
                {
                    **alert,
                    "service_point_id": point.id,
                    "place_zh": point.name_zh,
                    "place_en": point.name_en,
                    "message": message(alert),
                }
            )
    return found
