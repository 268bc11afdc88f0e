"""Floor maps: an admin replaces a hospital's map; anyone asks for a route on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from hospital.accounts.models import Account
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, NotFound
from hospital.guide.floor_svg import floor_svg
from hospital.guide.models import MapEdge, MapFloor, MapNode, MapNodeKind
from hospital.guide.wayfinding import (
    Edge,
    Floor,
    Graph,
    Node,
    Route,
    Step,
    describe,
    shortest_route,
)
from hospital.organisation.models import ServicePoint


def _floor_key(building: str, floor: str) -> str:
    return f"{building}/{floor}"


def load_graph(hospital_id: int) -> Graph:
    """The hospital's map as the pure routing module reads it."""
    graph = Graph()
    floors = db.session.scalars(sa.select(MapFloor).where(MapFloor.hospital_id == hospital_id))
    by_id: dict[int, str] = {}
    for f in floors:
        key = _floor_key(f.building, f.floor)
        by_id[f.id] = key
        graph.floors[key] = Floor(key, f.building, f.floor, f.name_zh, f.name_en, f.width, f.height)
    rows = db.session.execute(
        sa.select(MapNode, ServicePoint.room)
        .outerjoin(ServicePoint, ServicePoint.id == MapNode.service_point_id)
        .where(MapNode.hospital_id == hospital_id)
    )
    codes: dict[int, str] = {}
    for n, room in rows:
        codes[n.id] = n.code
        graph.nodes[n.code] = Node(
            n.code, n.kind.value, by_id[n.floor_id], n.x, n.y, n.name_zh, n.name_en, room or ""
        )
    for e in db.session.scalars(sa.select(MapEdge).where(MapEdge.hospital_id == hospital_id)):
        graph.edges.append(
            Edge(codes[e.from_node_id], codes[e.to_node_id], e.length_m, e.step_free)
        )
    return graph


def export_map(hospital_id: int) -> dict[str, Any]:
    """The map in the form replace_map takes, so an admin can edit and send it back."""
    graph = load_graph(hospital_id)
    points = dict(
        db.session.execute(
            sa.select(MapNode.code, ServicePoint.code)
            .join(ServicePoint, ServicePoint.id == MapNode.service_point_id)
            .where(MapNode.hospital_id == hospital_id)
        )
        .tuples()
        .all()
    )
    return {
        "floors": [
            {
                "building": f.building,
                "floor": f.floor,
                "name_zh": f.name_zh,
                "name_en": f.name_en,
                "width": f.width,
                "height": f.height,
            }
            for f in graph.floors.values()
        ],
        "nodes": [
            {
                "code": n.code,
                "kind": n.kind,
                "building": graph.floors[n.floor].building,
                "floor": graph.floors[n.floor].floor,
                "x": n.x,
                "y": n.y,
                "name_zh": n.name_zh,
                "name_en": n.name_en,
                **({"service_point": points[n.code]} if n.code in points else {}),
            }
            for n in graph.nodes.values()
        ],
        "edges": [
            {"from": e.a, "to": e.b, "length_m": e.length_m, "step_free": e.step_free}
            for e in graph.edges
        ],
    }


class MapInvalid(InvalidInput):
    code = ErrorCode.MAP_INVALID

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            _l(
                "The map has mistakes; fix them and send it again: %(problems)s",
                problems="; ".join(problems[:10]),
            ),
            details={"problems": problems},
        )


def replace_map(
    hospital_id: int, data: Mapping[str, Any], *, actor: Account | None, now: datetime
) -> dict[str, int]:
    """Replace the hospital's whole map (floors, nodes, edges) with the one given, or nothing."""
    problems: list[str] = []
    floor_keys = [_floor_key(f["building"], f["floor"]) for f in data["floors"]]
    problems += [f"floor {k} twice" for k in set(floor_keys) if floor_keys.count(k) > 1]
    node_codes = [n["code"] for n in data["nodes"]]
    problems += [f"node {c} twice" for c in set(node_codes) if node_codes.count(c) > 1]
    points = dict(
        db.session.execute(
            sa.select(ServicePoint.code, ServicePoint.id).where(
                ServicePoint.hospital_id == hospital_id
            )
        )
        .tuples()
        .all()
    )
    for n in data["nodes"]:
        if _floor_key(n["building"], n["floor"]) not in floor_keys:
            problems.append(f"node {n['code']}: no floor {n['building']}/{n['floor']}")
        if n.get("service_point") and n["service_point"] not in points:
            problems.append(f"node {n['code']}: no service point {n['service_point']}")
    pairs = set()
    for e in data["edges"]:
        for end in (e["from"], e["to"]):
            if end not in node_codes:
                problems.append(f"edge {e['from']}-{e['to']}: no node {end}")
        pair = frozenset((e["from"], e["to"]))
        if len(pair) < 2 or pair in pairs:
            problems.append(f"edge {e['from']}-{e['to']}: a loop or a second edge")
        pairs.add(pair)
    if problems:
        raise MapInvalid(problems)
    for table in (MapEdge, MapNode, MapFloor):
        db.session.execute(sa.delete(table).where(table.hospital_id == hospital_id))
    floors = {}
    for f in data["floors"]:
        floor = MapFloor(hospital_id=hospital_id, **{k: f[k] for k in f})
        db.session.add(floor)
        floors[_floor_key(f["building"], f["floor"])] = floor
    db.session.flush()
    nodes = {}
    for n in data["nodes"]:
        node = MapNode(
            hospital_id=hospital_id,
            floor_id=floors[_floor_key(n["building"], n["floor"])].id,
            code=n["code"],
            kind=MapNodeKind(n["kind"]),
            x=n["x"],
            y=n["y"],
            name_zh=n.get("name_zh", ""),
            name_en=n.get("name_en", ""),
            service_point_id=points.get(n.get("service_point") or ""),
        )
        db.session.add(node)
        nodes[n["code"]] = node
    db.session.flush()
    for e in data["edges"]:
        db.session.add(
            MapEdge(
                hospital_id=hospital_id,
                from_node_id=nodes[e["from"]].id,
                to_node_id=nodes[e["to"]].id,
                length_m=e["length_m"],
                step_free=e.get("step_free", True),
            )
        )
    db.session.flush()
    counts = {"floors": len(floors), "nodes": len(nodes), "edges": len(data["edges"])}
    record(action="guide.map_replaced", actor=actor, hospital_id=hospital_id, detail=counts)
    return counts


@dataclass(frozen=True)
class RouteAnswer:
    route: Route
    steps: list[Step]
    graph: Graph

    def svgs(self, lang: str) -> list[tuple[str, Markup]]:
        """Each floor the route crosses, with the route drawn on it."""
        return [(key, floor_svg(self.graph, key, self.route, lang)) for key in self.route.floors]


def _node_for(graph: Graph, hospital_id: int, ref: str) -> str | None:
    """A node code, or the node standing for a service point of that code."""
    if ref in graph.nodes:
        return ref
    if f"P-{ref}" in graph.nodes:  # the convention of the demo map and the admin page
        return f"P-{ref}"
    point_id = db.session.scalar(
        sa.select(ServicePoint.id).where(
            ServicePoint.hospital_id == hospital_id, ServicePoint.code == ref
        )
    )
    if point_id is None:
        return None
    return db.session.scalar(
        sa.select(MapNode.code).where(
            MapNode.hospital_id == hospital_id, MapNode.service_point_id == point_id
        )
    )


class NoRoute(NotFound):
    code = ErrorCode.ROUTE_NOT_FOUND


def route_between(
    hospital_id: int, *, to_point: str, from_point: str | None = None, step_free: bool = False
) -> RouteAnswer:
    """The route from a point (or the best entrance) to a point; step_free avoids stairs."""
    graph = load_graph(hospital_id)
    goal = _node_for(graph, hospital_id, to_point)
    if goal is None:
        raise NoRoute(_l("That place is not on the hospital's map."))
    if from_point:
        start = _node_for(graph, hospital_id, from_point)
        if start is None:
            raise NoRoute(_l("That place is not on the hospital's map."))
        starts = [start]
    else:
        starts = [n.code for n in graph.entrances()]
    routes = [r for s in starts if (r := shortest_route(graph, s, goal, step_free=step_free))]
    if not routes:
        raise NoRoute(
            _l("No step-free route was found; please ask staff for help.")
            if step_free
            else _l("No route was found; please ask staff for help.")
        )
    best = min(routes, key=lambda r: r.length_m)
    return RouteAnswer(best, describe(graph, best), graph)


def route_or_none(
    hospital_id: int, *, to_point: str, from_point: str | None = None, step_free: bool = False
) -> RouteAnswer | None:
    """route_between for pages that show a route only when one exists."""
    try:
        return route_between(
            hospital_id, to_point=to_point, from_point=from_point, step_free=step_free
        )
    except NoRoute:
        return None
