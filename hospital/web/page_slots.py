"""Named places on a page where other packages put fragments, so the page imports none of them.

One way for every page: the kernel declares a page's slot with the type of fragment it takes; a
package adds its fragment from its wiring (or pages module), under a key, with an order; the
page asks the slot for its fragments and places them.

    STATISTICS_SECTIONS.add("scheduling.waitlist", render_waitlist_statistics, order=50)
    STAFF_SUMMARIES.add("consult_pages.inbox", waiting_summary)  # keyed by the link's endpoint

The home page's tiles are a slot too (hospital/web/tiles.py, keyed by endpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Generic, TypeVar

from markupsafe import Markup

from hospital.accounts.models import Account

F = TypeVar("F")


class PageSlot(Generic[F]):
    """A named place on a page holding fragments of one kind, by key, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._fragments: dict[str, tuple[int, F]] = {}

    def add(self, key: str, fragment: F, *, order: int = 100) -> None:
        """Put fragment in the slot (adding the same key again replaces it)."""
        self._fragments[key] = (order, fragment)

    def remove(self, key: str) -> None:
        self._fragments.pop(key, None)

    def get(self, key: str) -> F | None:
        found = self._fragments.get(key)
        return found[1] if found is not None else None

    def fragments(self) -> list[F]:
        """Every fragment, by order, then key."""
        return [
            fragment
            for _key, (_order, fragment) in sorted(
                self._fragments.items(), key=lambda item: (item[1][0], item[0])
            )
        ]

    def __repr__(self) -> str:
        return f"PageSlot({self.name!r}, {sorted(self._fragments)})"


# A section of the statistics page (owned by reports, which its neighbours may not import):
# render(hospital_id, first day, last day) -> its HTML, in the request's language.
StatisticsSection = Callable[[int, date, date], Markup]
STATISTICS_SECTIONS: PageSlot[StatisticsSection] = PageSlot("reports.statistics")

# A line of live figures under a staff home link ("3 questions waiting, the first due 14:30"),
# keyed by the link's endpoint: summary(account) -> HTML, or None when there is nothing to say.
StaffSummary = Callable[[Account], Markup | None]
STAFF_SUMMARIES: PageSlot[StaffSummary] = PageSlot("staff_home.summaries")


def render_statistics_sections(hospital_id: int, start: date, end: date) -> list[Markup]:
    """Every statistics section's HTML for the hospital and the days from start to end."""
    return [render(hospital_id, start, end) for render in STATISTICS_SECTIONS.fragments()]
