"""Draw one floor of the map as SVG, with a route's part on that floor highlighted."""

from __future__ import annotations

from markupsafe import Markup, escape

from hospital.guide.wayfinding import CORRIDOR, ENTRANCE, LIFT, POINT, STAIRS, Graph, Route

SCALE = 8  # pixels per metre
MARGIN = 24
COLOURS = {
    CORRIDOR: "#9e9e9e",
    LIFT: "#1565c0",
    STAIRS: "#6d4c41",
    ENTRANCE: "#2e7d32",
    POINT: "#ef6c00",
}
SYMBOLS = {LIFT: ("梯", "L"), STAIRS: ("阶", "S"), ENTRANCE: ("门", "E")}


def floor_svg(graph: Graph, floor_key: str, route: Route | None, lang: str) -> Markup:
    """The floor's corridors and places; the route's nodes and edges on it drawn in red."""
    floor = graph.floors[floor_key]
    width = floor.width * SCALE + 2 * MARGIN
    height = floor.height * SCALE + 2 * MARGIN
    on_floor = {code for code, node in graph.nodes.items() if node.floor == floor_key}
    path = [n for n in route.nodes if n.floor == floor_key] if route else []
    path_codes = [n.code for n in path]

    def xy(code: str) -> tuple[int, int]:
        node = graph.nodes[code]
        return node.x * SCALE + MARGIN, node.y * SCALE + MARGIN

    title = (
        f"{floor.building}座{floor.floor}楼"
        if lang == "zh"
        else f"Building {floor.building}, floor {floor.floor}"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="floor-map" data-floor="{escape(floor_key)}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="1" y="1" width="{width - 2}" height="{height - 2}" fill="#fafafa" stroke="#bdbdbd"/>',
    ]
    for edge in graph.edges:
        if edge.a in on_floor and edge.b in on_floor:
            (x1, y1), (x2, y2) = xy(edge.a), xy(edge.b)
            dash = "" if edge.step_free else ' stroke-dasharray="6 4"'
            parts.append(
                f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#cfd8dc" stroke-width="10"'
                f' stroke-linecap="round"{dash}/>'
            )
    if len(path_codes) > 1:
        points = " ".join(f"{x},{y}" for x, y in (xy(c) for c in path_codes))
        parts.append(
            f'<polyline class="route" points="{points}" fill="none" stroke="#d32f2f" '
            'stroke-width="6" stroke-linecap="round" stroke-linejoin="round"/>'
        )
    for code in sorted(on_floor):
        node = graph.nodes[code]
        x, y = xy(code)
        colour = COLOURS.get(node.kind, "#9e9e9e")
        on_route = code in path_codes
        radius = 4 if node.kind == CORRIDOR else 9
        ring = ' stroke="#d32f2f" stroke-width="3"' if on_route else ""
        parts.append(
            f'<circle cx="{x}" cy="{y}" r="{radius}" fill="{colour}"{ring} data-node="{escape(code)}"/>'
        )
        symbol = SYMBOLS.get(node.kind)
        if symbol:
            parts.append(
                f'<text x="{x}" y="{y + 4}" font-size="10" text-anchor="middle" fill="#fff">'
                f"{escape(symbol[0] if lang == 'zh' else symbol[1])}</text>"
            )
        label = node.name_zh if lang == "zh" else node.name_en
        if label and node.kind != CORRIDOR:
            weight = ' font-weight="bold"' if on_route else ""
            parts.append(
                f'<text x="{x}" y="{y - 13}" font-size="12" text-anchor="middle"'
                f' fill="#212121"{weight}>{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
