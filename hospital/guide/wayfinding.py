"""Finding the way inside the hospital (院内导航): shortest routes and step-by-step text.

Pure logic: no Flask, no database. A `Graph` holds the nodes an admin drew on each floor and
the edges between them; lifts and stairs join floors by edges between their landings.
`shortest_route` is Dijkstra's algorithm; asked for a step-free route (wheelchairs, elders,
prams) it leaves out every edge that is not step-free, stairs included.
`describe` turns a route into steps in Chinese and English, one step per leg: a walk along one
floor (with the turns at corridor junctions), a ride in the lift or a climb of the stairs.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

CORRIDOR, LIFT, STAIRS, ENTRANCE, POINT = "corridor", "lift", "stairs", "entrance", "point"
# A change of heading under this many degrees is "go straight on".
TURN_DEGREES = 30


@dataclass(frozen=True)
class Floor:
    key: str  # "A/1"
    building: str
    floor: str
    name_zh: str = ""
    name_en: str = ""
    width: int = 100
    height: int = 60


@dataclass(frozen=True)
class Node:
    code: str
    kind: str
    floor: str  # Floor.key
    x: int
    y: int
    name_zh: str = ""
    name_en: str = ""
    room: str = ""


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    length_m: int
    step_free: bool = True


@dataclass
class Graph:
    floors: dict[str, Floor] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def neighbours(self, code: str, *, step_free: bool) -> Iterable[tuple[str, Edge]]:
        for edge in self._adjacency().get(code, ()):
            if step_free and not edge.step_free:
                continue
            yield (edge.b if edge.a == code else edge.a), edge

    def _adjacency(self) -> dict[str, list[Edge]]:
        cached: dict[str, list[Edge]] | None = getattr(self, "_adjacent", None)
        if cached is None:
            cached = {}
            for edge in self.edges:
                cached.setdefault(edge.a, []).append(edge)
                cached.setdefault(edge.b, []).append(edge)
            self._adjacent = cached
        return cached

    def entrances(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == ENTRANCE]

    def problems(self) -> list[str]:
        """What makes this map unusable: edges to unknown nodes, nodes on unknown floors."""
        found = [
            f"node {n.code}: unknown floor {n.floor}"
            for n in self.nodes.values()
            if n.floor not in self.floors
        ]
        for edge in self.edges:
            for end in (edge.a, edge.b):
                if end not in self.nodes:
                    found.append(f"edge {edge.a}-{edge.b}: unknown node {end}")
            if edge.length_m <= 0:
                found.append(f"edge {edge.a}-{edge.b}: length must be positive")
        return found


@dataclass(frozen=True)
class Route:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    length_m: int
    step_free: bool

    @property
    def floors(self) -> list[str]:
        """The floors the route crosses, in order, each once."""
        return list(dict.fromkeys(n.floor for n in self.nodes))


def shortest_route(graph: Graph, start: str, goal: str, *, step_free: bool = False) -> Route | None:
    """The shortest walk from start to goal, or None when there is none (e.g. only stairs)."""
    if start not in graph.nodes or goal not in graph.nodes:
        return None
    distance = {start: 0}
    came_from: dict[str, tuple[str, Edge]] = {}
    heap = [(0, start)]
    while heap:
        dist, code = heapq.heappop(heap)
        if code == goal:
            break
        if dist > distance.get(code, math.inf):
            continue
        for other, edge in graph.neighbours(code, step_free=step_free):
            candidate = dist + edge.length_m
            if candidate < distance.get(other, math.inf):
                distance[other] = candidate
                came_from[other] = (code, edge)
                heapq.heappush(heap, (candidate, other))
    if goal not in distance:
        return None
    codes, edges = [goal], []
    while codes[-1] != start:
        previous, edge = came_from[codes[-1]]
        codes.append(previous)
        edges.append(edge)
    codes.reverse()
    edges.reverse()
    all_step_free = all(e.step_free for e in edges)
    return Route(tuple(graph.nodes[c] for c in codes), tuple(edges), distance[goal], all_step_free)


@dataclass(frozen=True)
class Step:
    kind: str  # start, walk, cross (a level link to another building), lift, stairs, arrive
    zh: str
    en: str
    floor: str
    nodes: tuple[str, ...]  # the codes of the route's nodes this step covers, in order

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def _turn(a: Node, b: Node, c: Node) -> str:
    """straight, left or right, walking a -> b -> c on a map whose y axis points down."""
    v1 = (b.x - a.x, b.y - a.y)
    v2 = (c.x - b.x, c.y - b.y)
    if v1 == (0, 0) or v2 == (0, 0):
        return "straight"
    angle = math.degrees(math.atan2(v1[0] * v2[1] - v1[1] * v2[0], v1[0] * v2[0] + v1[1] * v2[1]))
    if abs(angle) < TURN_DEGREES:
        return "straight"
    return "right" if angle > 0 else "left"


def _place(node: Node, lang: str) -> str:
    name = node.name_zh if lang == "zh" else node.name_en
    if name:
        return name
    kind_names = {
        CORRIDOR: ("走廊路口", "the corridor junction"),
        LIFT: ("电梯", "the lift"),
        STAIRS: ("楼梯", "the stairs"),
        ENTRANCE: ("入口", "the entrance"),
        POINT: ("目的地", "your destination"),
    }
    zh, en = kind_names.get(node.kind, ("路口", "the junction"))
    return zh if lang == "zh" else en


def _floor_label(graph: Graph, key: str, lang: str) -> str:
    floor = graph.floors.get(key)
    if floor is None:
        return key
    if lang == "zh":
        return f"{floor.building}座{floor.floor}楼"
    return f"building {floor.building}, floor {floor.floor}"


def describe(graph: Graph, route: Route) -> list[Step]:
    """Steps a person can follow, in both languages; every node of the route is in one step."""
    nodes = route.nodes
    steps = [
        Step(
            "start",
            f"从{_place(nodes[0], 'zh')}出发（{_floor_label(graph, nodes[0].floor, 'zh')}）。",
            f"Start at {_place(nodes[0], 'en')} ({_floor_label(graph, nodes[0].floor, 'en')}).",
            nodes[0].floor,
            (nodes[0].code,),
        )
    ]
    i = 0
    while i < len(nodes) - 1:
        if nodes[i + 1].floor != nodes[i].floor and nodes[i].kind not in (LIFT, STAIRS):
            # A level link to another building or wing (e.g. the link corridor).
            target, metres = nodes[i + 1], route.edges[i].length_m
            steps.append(
                Step(
                    "cross",
                    f"步行约{metres}米，经{_place(target, 'zh')}到{_floor_label(graph, target.floor, 'zh')}。",
                    f"Walk about {metres} m through {_place(target, 'en')} to "
                    f"{_floor_label(graph, target.floor, 'en')}.",
                    target.floor,
                    (target.code,),
                )
            )
            i += 1
            continue
        if nodes[i + 1].floor != nodes[i].floor:
            j = i + 1
            while (
                j + 1 < len(nodes)
                and nodes[j + 1].floor != nodes[j].floor
                and nodes[j].kind == nodes[i].kind
            ):
                j += 1
            by_lift = route.edges[i].step_free and nodes[i].kind == LIFT
            kind = LIFT if by_lift else STAIRS
            zh_how, en_how = (
                ("乘电梯", "Take the lift") if by_lift else ("走楼梯", "Take the stairs")
            )
            target = nodes[j]
            steps.append(
                Step(
                    kind,
                    f"{zh_how}到{_floor_label(graph, target.floor, 'zh')}。",
                    f"{en_how} to {_floor_label(graph, target.floor, 'en')}.",
                    target.floor,
                    tuple(n.code for n in nodes[i + 1 : j + 1]),
                )
            )
            i = j
            continue
        # A walk on one floor: up to the next change of floor, or the end.
        j = i + 1
        while j + 1 < len(nodes) and nodes[j + 1].floor == nodes[j].floor:
            j += 1
        walked = nodes[i : j + 1]
        metres = sum(e.length_m for e in route.edges[i:j])
        turns_zh, turns_en = [], []
        for k in range(1, len(walked) - 1):
            way = _turn(walked[k - 1], walked[k], walked[k + 1])
            if way != "straight":
                turns_zh.append(f"在{_place(walked[k], 'zh')}{'左' if way == 'left' else '右'}转")
                turns_en.append(f"turn {way} at {_place(walked[k], 'en')}")
        end = walked[-1]
        goal = j == len(nodes) - 1
        to_zh = "目的地" if goal else _place(end, "zh")
        to_en = "your destination" if goal else _place(end, "en")
        zh = f"步行约{metres}米到{to_zh}"
        en = f"Walk about {metres} m to {to_en}"
        if turns_zh:
            zh += "，途中" + "，".join(turns_zh)
            en += "; on the way " + ", then ".join(turns_en)
        steps.append(
            Step("walk", zh + "。", en + ".", end.floor, tuple(n.code for n in walked[1:]))
        )
        i = j
    last = nodes[-1]
    room_zh = f"（{last.room}室）" if last.room else ""
    room_en = f" (room {last.room})" if last.room else ""
    steps.append(
        Step(
            "arrive",
            f"到达{_place(last, 'zh')}{room_zh}，{_floor_label(graph, last.floor, 'zh')}。",
            f"You have arrived at {_place(last, 'en')}{room_en}, "
            f"{_floor_label(graph, last.floor, 'en')}.",
            last.floor,
            (),
        )
    )
    return steps
