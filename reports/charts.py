"""Charts as inline SVG, drawn on the server so they show in the page and in the PDF. Pure.

Series differ by shape and dash as well as colour, and every chart carries a text title and a
legend, so they read in black and white and to a screen reader (role="img" + <title>).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_RIGHT = 12
MARGIN_TOP = 28
MARGIN_BOTTOM = 44
# Dark, print-friendly tones; dashes keep series apart without colour.
STYLES = (
    ("#1f4e79", ""),
    ("#a33b20", "6 3"),
    ("#2e7d32", "2 3"),
    ("#5d4037", "8 3 2 3"),
)


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _number(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def _frame(
    title: str,
    labels: list[str],
    top: float,
    parts: list[str],
    series: list[Series],
    *,
    bars: bool = False,
) -> str:
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{MARGIN_LEFT}" y="16" font-size="13">{escape(title)}</text>',
    ]
    for i in range(5):
        value = top * i / 4
        y = MARGIN_TOP + plot_h - plot_h * i / 4
        out.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{MARGIN_LEFT + plot_w}" y2="{y:.1f}" stroke="#ccc" stroke-width="0.5"/>'
        )
        out.append(
            f'<text x="{MARGIN_LEFT - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{_number(value)}</text>'
        )
    step = max(1, len(labels) // 10)
    slot = plot_w / max(len(labels), 1)
    for i, label in enumerate(labels):
        if i % step:
            continue
        x = MARGIN_LEFT + slot * (i + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 12}" font-size="9" text-anchor="middle">{escape(label[-5:] if len(label) == 10 and label[4] == "-" else label[:8])}</text>'
        )
    out += parts
    for i, s in enumerate(series):
        colour, dash = STYLES[i % len(STYLES)]
        x = MARGIN_LEFT + i * 150
        y = HEIGHT - 10
        if bars:
            opacity = max(1.0 - 0.35 * i, 0.3)
            out.append(
                f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{colour}" fill-opacity="{opacity:.2f}"/>'
            )
        else:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour}" stroke-width="3"{dash_attr}/>'
            )
        out.append(f'<text x="{x + 22}" y="{y}" font-size="10">{escape(s.name)}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, labels: list[str], series: list[Series]) -> str:
    """A line per series over the labels (missing values break the line)."""
    top = _nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / max(len(labels), 1)
    parts = []
    for i, s in enumerate(series):
        colour, dash = STYLES[i % len(STYLES)]
        runs: list[list[str]] = [[]]
        for j, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            x = MARGIN_LEFT + slot * (j + 0.5)
            y = MARGIN_TOP + plot_h - plot_h * value / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>')
            elif run:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attr} points="{" ".join(run)}"/>'
                )
    return _frame(title, labels, top, parts, series)


def bar_chart(title: str, labels: list[str], series: list[Series]) -> str:
    """Grouped bars per label, one bar per series (hatched differently for black-and-white)."""
    top = _nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / max(len(labels), 1)
    width = slot * 0.8 / max(len(series), 1)
    parts = []
    for i, s in enumerate(series):
        colour, _dash = STYLES[i % len(STYLES)]
        opacity = 1.0 - 0.35 * i
        for j, value in enumerate(s.values):
            if not value:
                continue
            height = plot_h * value / top
            x = MARGIN_LEFT + slot * j + slot * 0.1 + width * i
            y = MARGIN_TOP + plot_h - height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}" height="{height:.1f}" fill="{colour}" fill-opacity="{max(opacity, 0.3):.2f}"><title>{escape(s.name)} {escape(labels[j])}: {_number(value)}</title></rect>'
            )
    return _frame(title, labels, top, parts, series, bars=True)
