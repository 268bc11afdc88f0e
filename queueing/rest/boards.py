"""The public display board (masked names and ticket numbers only)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.accounts.guards import public
from hospital.db import db, utcnow
from hospital.organisation.lookup import current_hospital
from hospital.organisation.models import ServicePoint
from hospital.zones import local_date, zone_for
from queueing import snapshots
from queueing.models import ServiceQueue
from queueing.rest.common import blp
from queueing.schemas import BoardArgs, BoardOut

# ---- boards ---------------------------------------------------------------------------------


def board_queue_ids(args: dict[str, Any]) -> list[int]:
    """Today's queues of the listed service points and a department's, or the whole hospital's."""
    hospital = current_hospital()
    chosen: list[sa.ColumnElement[bool]] = []
    if args.get("points"):
        chosen.append(ServicePoint.id.in_(sorted({int(p) for p in args["points"].split(",")})))
    if args.get("department") is not None:
        chosen.append(ServicePoint.department_id == args["department"])
    scope = sa.or_(*chosen) if chosen else sa.true()
    day = local_date(utcnow(), zone_for(hospital))
    rows = db.session.scalars(
        sa.select(ServiceQueue.id)
        .join(ServicePoint, ServicePoint.id == ServiceQueue.service_point_id)
        .where(scope, ServicePoint.hospital_id == hospital.id, ServiceQueue.service_day == day)
        .order_by(ServiceQueue.service_point_id)
    ).all()
    return list(rows)


@blp.route("/board", methods=["GET"])
@public("display board: masked names and ticket numbers only")
@blp.arguments(BoardArgs, location="query")
@blp.response(200, BoardOut)
def get_board(args: dict[str, Any]) -> dict[str, Any]:
    """What the display board shows: now calling, last calls, next waiting (masked names)."""
    now = utcnow()
    states = [s for s in (snapshots.load_state(q, now=now) for q in board_queue_ids(args)) if s]
    return snapshots.board_view(states)
