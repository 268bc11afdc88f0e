"""Floor maps: an admin replaces a hospital's map; anyone asks for a route on it."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cachetools import LRUCache
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


@dataclass(frozen=True)
class HospitalMap:
    """A hospital's map as its tables say, shared by every route asked on it until it changes.

    Its nodes carry no room: a room belongs to the service point, which staff edit apart from
    the map, so a route reads the room of its destination afresh (`_arrive_in`).
    """

    revision: str
    graph: Graph
    node_of_point: Mapping[int, str]  # service point id -> the node standing for it
    point_of_node: Mapping[str, int]


# Distinct (hospital, revision) maps kept parsed; one per hospital in use is enough, and a
# replaced map's old revision is never asked for again, so it ages out.
MAP_CACHE_SIZE = 32
_maps: LRUCache[tuple[int, str], HospitalMap] = LRUCache(maxsize=MAP_CACHE_SIZE)
_maps_lock = threading.Lock()


def map_revision(hospital_id: int) -> str | None:
    """The revision of the hospital's map (None: it has no map)."""
    return db.session.scalar(
        sa.select(MapFloor.revision)
        .where(MapFloor.hospital_id == hospital_id)
        .order_by(MapFloor.id)
        .limit(1)
    )


def _read_map(hospital_id: int, revision: str) -> HospitalMap:
    graph = Graph()
    by_id: dict[int, str] = {}
    for f in db.session.scalars(sa.select(MapFloor).where(MapFloor.hospital_id == hospital_id)):
        key = _floor_key(f.building, f.floor)
        by_id[f.id] = key
        graph.floors[key] = Floor(key, f.building, f.floor, f.name_zh, f.name_en, f.width, f.height)
    codes: dict[int, str] = {}
    node_of_point: dict[int, str] = {}
    for n in db.session.scalars(sa.select(MapNode).where(MapNode.hospital_id == hospital_id)):
        codes[n.id] = n.code
        graph.nodes[n.code] = Node(
            n.code, n.kind.value, by_id[n.floor_id], n.x, n.y, n.name_zh, n.name_en
        )
        if n.service_point_id is not None:
            node_of_point.setdefault(n.service_point_id, n.code)
    for e in db.session.scalars(sa.select(MapEdge).where(MapEdge.hospital_id == hospital_id)):
        graph.edges.append(
            Edge(codes[e.from_node_id], codes[e.to_node_id], e.length_m, e.step_free)
        )
    point_of_node = {code: point_id for point_id, code in node_of_point.items()}
    return HospitalMap(revision, graph, node_of_point, point_of_node)


def current_map(hospital_id: int) -> HospitalMap | None:
    """The hospital's map (None: it has none): one query while it is unchanged.

    Kept in memory under (hospital, revision); replace_map writes a new random revision, so
    every process sees an edit at its next route, and no two hospitals (or databases) share a
    key. Read-only: routes and drawings never change it.
    """
    revision = map_revision(hospital_id)
    if revision is None:
        return None
    if not revision:  # a map from before revisions: read every time
        return _read_map(hospital_id, revision)
    key = (hospital_id, revision)
    with _maps_lock:
        found = _maps.get(key)
    if found is None:
        found = _read_map(hospital_id, revision)
        with _maps_lock:
            _maps[key] = found
    return found


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
    revision = uuid.uuid4().hex  # one for all the floors: the key routes cache the map under
    for f in data["floors"]:
        floor = MapFloor(hospital_id=hospital_id, revision=revision, **{k: f[k] for k in f})
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


def _node_for(found: HospitalMap, hospital_id: int, ref: str) -> str | None:
    """A node code, or the node standing for a service point of that code."""
    if ref in found.graph.nodes:
        return ref
    if f"P-{ref}" in found.graph.nodes:  # the convention of the demo map and the admin page
        return f"P-{ref}"
    point_id = db.session.scalar(
        sa.select(ServicePoint.id).where(
            ServicePoint.hospital_id == hospital_id, ServicePoint.code == ref
        )
    )
    return None if point_id is None else found.node_of_point.get(point_id)


class NoRoute(NotFound):
    code = ErrorCode.ROUTE_NOT_FOUND


def route_between(
    hospital_id: int, *, to_point: str, from_point: str | None = None, step_free: bool = False
) -> RouteAnswer:
    """The route from a point (or the best entrance) to a point; step_free avoids stairs."""
    found = current_map(hospital_id)
    goal = _node_for(found, hospital_id, to_point) if found else None
    if found is None or goal is None:
        raise NoRoute(_l("That place is not on the hospital's map."))
    start = None
    if from_point:
        start = _node_for(found, hospital_id, from_point)
        if start is None:
            raise NoRoute(_l("That place is not on the hospital's map."))
    return _route(found, goal, start=start, step_free=step_free, point=None)


def route_to_service_point(
    found: HospitalMap, point: ServicePoint, *, step_free: bool = False
) -> RouteAnswer | None:
    """The route from the best entrance to a service point already read, on a map already read
    (no query while the map is unchanged); None when the point is not on it or no way leads."""
    graph = found.graph
    goal = (
        point.code
        if point.code in graph.nodes
        else f"P-{point.code}"
        if f"P-{point.code}" in graph.nodes
        else found.node_of_point.get(point.id)
    )
    if goal is None:
        return None
    try:
        return _route(found, goal, start=None, step_free=step_free, point=point)
    except NoRoute:
        return None


def _route(
    found: HospitalMap,
    goal: str,
    *,
    start: str | None,
    step_free: bool,
    point: ServicePoint | None,
) -> RouteAnswer:
    graph = found.graph
    starts = [start] if start else [n.code for n in graph.entrances()]
    routes = [r for s in starts if (r := shortest_route(graph, s, goal, step_free=step_free))]
    if not routes:
        raise NoRoute(
            _l("No step-free route was found; please ask staff for help.")
            if step_free
            else _l("No route was found; please ask staff for help.")
        )
    best = _arrive_in(found, min(routes, key=lambda r: r.length_m), point)
    return RouteAnswer(best, describe(graph, best), graph)


def _arrive_in(found: HospitalMap, route: Route, point: ServicePoint | None) -> Route:
    """The route with its destination's room as the service point has it now."""
    last = route.nodes[-1]
    point_id = found.point_of_node.get(last.code)
    if point_id is None:
        return route
    if point is None or point.id != point_id:
        point = db.session.get(ServicePoint, point_id)
    room = (point.room if point is not None else "") or ""
    return dataclasses.replace(
        route, nodes=(*route.nodes[:-1], dataclasses.replace(last, room=room))
    )


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
