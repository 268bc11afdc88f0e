"""Sections other packages add to the statistics page; the composition root provides them.

Reports may not import the packages above it, so a package's figures arrive here as a function
`(hospital, first day, last day) -> HTML` rendered under the page's own tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from markupsafe import Markup

SectionRenderer = Callable[[Any, date, date], str]

_SECTIONS: list[SectionRenderer] = []


def provide(renderer: SectionRenderer) -> None:
    """Add a section (providing the same one again changes nothing)."""
    if renderer not in _SECTIONS:
        _SECTIONS.append(renderer)


def render_all(hospital: Any, start: date, end: date) -> list[Markup]:
    return [Markup(render(hospital, start, end)) for render in _SECTIONS]  # noqa: S704
