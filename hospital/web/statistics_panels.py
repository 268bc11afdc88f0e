"""Sections other packages add to the statistics page, which reports owns but need not import.

A package adds a panel from its pages module (as it adds a home tile); the statistics page calls
each panel with the hospital and the period it shows and places the HTML it returns.

    add_statistics_panel(StatisticsPanel("scheduling.waitlist", render_waitlist, order=50))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

# render(hospital_id, first day, last day) -> the section's HTML, in the request's language.
PanelRenderer = Callable[[int, date, date], Markup]


@dataclass(frozen=True)
class StatisticsPanel:
    name: str
    render: PanelRenderer
    order: int = 100


_PANELS: dict[str, StatisticsPanel] = {}


def add_statistics_panel(panel: StatisticsPanel) -> None:
    """Show panel on the statistics page (adding the same name again replaces it)."""
    _PANELS[panel.name] = panel


def render_statistics_panels(hospital_id: int, start: date, end: date) -> list[Markup]:
    """Every panel's HTML for the hospital and the days from start to end, in order."""
    panels = sorted(_PANELS.values(), key=lambda p: (p.order, p.name))
    return [panel.render(hospital_id, start, end) for panel in panels]
