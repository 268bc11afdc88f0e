"""Routes on a small drawn map: shortest, step-free, turns, and text that follows the path."""

from __future__ import annotations

from hospital.guide.floor_svg import floor_svg
from hospital.guide.wayfinding import Edge, Floor, Graph, Node, describe, shortest_route


def small_map() -> Graph:
    """Two floors: stairs next to the door, the lift further along; a room up the corridor."""
    g = Graph()
    g.floors = {"A/1": Floor("A/1", "A", "1"), "A/2": Floor("A/2", "A", "2")}
    for node in (
        Node("DOOR", "entrance", "A/1", 0, 10, "正门", "Main door"),
        Node("C1", "corridor", "A/1", 10, 10),
        Node("S1", "stairs", "A/1", 10, 0, "楼梯", "Stairs"),
        Node("C2", "corridor", "A/1", 40, 10),
        Node("L1", "lift", "A/1", 40, 0, "电梯", "Lift"),
        Node("S2", "stairs", "A/2", 10, 0, "楼梯", "Stairs"),
        Node("L2", "lift", "A/2", 40, 0, "电梯", "Lift"),
        Node("C3", "corridor", "A/2", 40, 10),
        Node("ROOM", "point", "A/2", 40, 30, "内科1诊室", "Medicine room 1", room="201"),
        Node("C4", "corridor", "A/2", 10, 10),
    ):
        g.nodes[node.code] = node
    g.edges = [
        Edge("DOOR", "C1", 10),
        Edge("C1", "S1", 10),
        Edge("C1", "C2", 40),
        Edge("C2", "L1", 10),
        Edge("S1", "S2", 12, step_free=False),
        Edge("L1", "L2", 8),
        Edge("S2", "C4", 10),
        Edge("C4", "C3", 30),
        Edge("L2", "C3", 10),
        Edge("C3", "ROOM", 20),
    ]
    return g


def test_the_shortest_route_climbs_the_stairs() -> None:
    route = shortest_route(small_map(), "DOOR", "ROOM")
    assert route is not None
    assert [n.code for n in route.nodes] == ["DOOR", "C1", "S1", "S2", "C4", "C3", "ROOM"]
    assert route.length_m == 92 and not route.step_free
    steps = describe(small_map(), route)
    assert [s.kind for s in steps] == ["start", "walk", "stairs", "walk", "arrive"]
    assert steps[2].en == "Take the stairs to building A, floor 2."
    assert steps[3].en == (
        "Walk about 60 m to your destination; on the way turn left at the corridor junction, "
        "then turn right at the corridor junction."
    )
    assert steps[3].zh == "步行约60米到目的地，途中在走廊路口左转，在走廊路口右转。"


def test_a_step_free_route_takes_the_lift() -> None:
    route = shortest_route(small_map(), "DOOR", "ROOM", step_free=True)
    assert route is not None
    assert [n.code for n in route.nodes] == ["DOOR", "C1", "C2", "L1", "L2", "C3", "ROOM"]
    assert route.length_m == 98 and route.step_free


def test_no_step_free_route_when_only_stairs_lead_there() -> None:
    g = small_map()
    g.edges = [e for e in g.edges if {e.a, e.b} != {"L1", "L2"}]
    assert shortest_route(g, "DOOR", "ROOM", step_free=True) is None
    assert shortest_route(g, "DOOR", "NOWHERE") is None


def test_the_steps_say_what_the_path_does_in_both_languages() -> None:
    g = small_map()
    route = shortest_route(g, "DOOR", "ROOM", step_free=True)
    assert route is not None
    steps = describe(g, route)
    assert [s.kind for s in steps] == ["start", "walk", "lift", "walk", "arrive"]
    assert steps[0].en == "Start at Main door (building A, floor 1)."
    assert steps[1].en == "Walk about 60 m to Lift; on the way turn left at the corridor junction."
    assert steps[1].zh == "步行约60米到电梯，途中在走廊路口左转。"
    assert (
        steps[2].en == "Take the lift to building A, floor 2." and steps[2].zh == "乘电梯到A座2楼。"
    )
    assert steps[3].en == "Walk about 30 m to your destination."
    assert steps[4].en == "You have arrived at Medicine room 1 (room 201), building A, floor 2."
    assert [c for s in steps for c in s.nodes] == [n.code for n in route.nodes]


def test_the_floor_map_highlights_only_that_floors_part_of_the_route() -> None:
    g = small_map()
    route = shortest_route(g, "DOOR", "ROOM")
    svg = str(floor_svg(g, "A/2", route, "en"))
    assert svg.startswith("<svg") and 'class="route"' in svg
    assert 'data-node="ROOM"' in svg and 'data-node="DOOR"' not in svg
    assert "Medicine room 1" in svg
    g.nodes["ROOM"] = Node("ROOM", "point", "A/2", 40, 30, "<b>", "<script>")
    assert "<script>" not in str(floor_svg(g, "A/2", route, "en"))
