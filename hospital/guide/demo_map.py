"""The demo hospital's floor map, in the form an admin imports (see services/maps.py).

Building A has five floors joined by a lift (step-free) and by stairs near the main entrance
(shorter, not step-free); the east door has three steps; a step-free link corridor on the
ground floor leads to building B. Every service point hangs off the corridor of its floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hospital.db import db
from hospital.guide.models import MapFloor
from hospital.guide.services.maps import replace_map
from hospital.organisation.models import ServicePoint

CORRIDOR_Y = 30
STAIRS_X, LIFT_X = 15, 60
LIFT_RIDE_M, STAIRS_CLIMB_M = 8, 10


@dataclass(frozen=True)
class PlacedPoint:
    code: str
    building: str
    floor: str
    name_zh: str
    name_en: str


def _length(a: dict[str, Any], b: dict[str, Any]) -> int:
    return max(1, round(math.hypot(a["x"] - b["x"], a["y"] - b["y"])))


def demo_map(points: Sequence[PlacedPoint]) -> dict[str, Any]:
    floors_a = sorted({p.floor for p in points if p.building == "A"} | {"1"}, key=int)
    floors: list[dict[str, Any]] = [
        {
            "building": "A",
            "floor": f,
            "name_zh": f"门诊楼{f}楼",
            "name_en": f"Outpatient floor {f}",
            "width": 100,
            "height": 60,
        }
        for f in floors_a
    ]
    floors.append(
        {
            "building": "B",
            "floor": "1",
            "name_zh": "医技楼1楼",
            "name_en": "Medical technology floor 1",
            "width": 60,
            "height": 60,
        }
    )
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    by_code: dict[str, dict[str, Any]] = {}

    def node(code: str, kind: str, building: str, floor: str, x: int, y: int, **extra: Any) -> str:
        item = {
            "code": code,
            "kind": kind,
            "building": building,
            "floor": floor,
            "x": x,
            "y": y,
            **extra,
        }
        nodes.append(item)
        by_code[code] = item
        return code

    def edge(a: str, b: str, *, step_free: bool = True, length_m: int | None = None) -> None:
        length = length_m if length_m is not None else _length(by_code[a], by_code[b])
        edges.append({"from": a, "to": b, "length_m": length, "step_free": step_free})

    def corridor(building: str, floor: str, xs: Sequence[int]) -> list[str]:
        codes = [
            node(f"{building}{floor}-C{x}", "corridor", building, floor, x, CORRIDOR_Y) for x in xs
        ]
        for a, b in zip(codes, codes[1:], strict=False):
            edge(a, b)
        return codes

    for floor in floors_a:
        here = [p for p in points if p.building == "A" and p.floor == floor]
        xs = sorted({5, STAIRS_X, LIFT_X, 95} | {25 + 10 * (n // 2) for n in range(len(here))})
        spine = corridor("A", floor, xs)
        stairs = node(
            f"A{floor}-STAIRS", "stairs", "A", floor, STAIRS_X, 45, name_zh="楼梯", name_en="Stairs"
        )
        lift = node(
            f"A{floor}-LIFT", "lift", "A", floor, LIFT_X, 45, name_zh="电梯", name_en="Lift"
        )
        edge(stairs, f"A{floor}-C{STAIRS_X}")
        edge(lift, f"A{floor}-C{LIFT_X}")
        for n, point in enumerate(here):
            x = 25 + 10 * (n // 2)
            y = 15 if n % 2 == 0 else 45
            if x in (STAIRS_X, LIFT_X) and y == 45:
                y = 15
            code = node(
                f"P-{point.code}",
                "point",
                "A",
                floor,
                x,
                y,
                name_zh=point.name_zh,
                name_en=point.name_en,
                service_point=point.code,
            )
            edge(code, f"A{floor}-C{x}")
        if floor == "1":
            main = node(
                "A1-ENTRANCE",
                "entrance",
                "A",
                "1",
                0,
                CORRIDOR_Y,
                name_zh="门诊楼正门",
                name_en="Main entrance",
            )
            east = node(
                "A1-EAST-DOOR",
                "entrance",
                "A",
                "1",
                100,
                CORRIDOR_Y,
                name_zh="东侧门（有台阶）",
                name_en="East door (steps)",
            )
            edge(main, spine[0])
            edge(east, spine[-1], step_free=False)
        del spine
    for lower, upper in zip(floors_a, floors_a[1:], strict=False):
        edge(f"A{lower}-LIFT", f"A{upper}-LIFT", length_m=LIFT_RIDE_M)
        edge(f"A{lower}-STAIRS", f"A{upper}-STAIRS", step_free=False, length_m=STAIRS_CLIMB_M)
    # Building B, joined to A's ground floor by the link corridor.
    here_b = [p for p in points if p.building == "B"]
    spine_b = corridor("B", "1", [5, 30, 55])
    node("B1-LINK", "corridor", "B", "1", 0, CORRIDOR_Y, name_zh="连廊", name_en="Link corridor")
    edge("B1-LINK", spine_b[0])
    edge("A1-C95", "B1-LINK", length_m=40)
    node(
        "B1-ENTRANCE",
        "entrance",
        "B",
        "1",
        55,
        55,
        name_zh="医技楼入口",
        name_en="Medical technology entrance",
    )
    edge("B1-ENTRANCE", spine_b[-1])
    for n, point in enumerate(here_b):
        code = node(
            f"P-{point.code}",
            "point",
            "B",
            "1",
            30,
            10 + 5 * n,
            name_zh=point.name_zh,
            name_en=point.name_en,
            service_point=point.code,
        )
        edge(code, spine_b[1])
    return {"floors": floors, "nodes": nodes, "edges": edges}


def seed_map(hospital_id: int, *, now: datetime) -> None:
    """Give the demo hospital its map, unless it has one (an admin's edits are kept)."""
    if db.session.scalar(
        sa.select(MapFloor.id).where(MapFloor.hospital_id == hospital_id).limit(1)
    ):
        return
    points = [
        PlacedPoint(p.code, p.building, p.floor, p.name_zh, p.name_en)
        for p in db.session.scalars(
            sa.select(ServicePoint)
            .where(ServicePoint.hospital_id == hospital_id, ServicePoint.is_active.is_(True))
            .order_by(ServicePoint.id)
        )
        if p.building and p.floor
    ]
    replace_map(hospital_id, demo_map(points), actor=None, now=now)
