"""The big action tiles of the home page; each module adds its own from its views module.

add_home_tile(Tile("scheduling_pages.book", _l("Book an appointment"), _l("..."), order=10))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context, has_request_context, url_for
from flask_babel import lazy_gettext as _l

from hospital.web.page_slots import PageSlot


@dataclass(frozen=True)
class Tile:
    endpoint: str
    title: Any  # a lazy_gettext string
    description: Any
    order: int = 100
    # Shown to anonymous visitors too; clicking leads through sign-in (the page requires it).
    show_signed_out: bool = True
    # Shown only to a signed-in account with a staff role (e.g. the queue consoles).
    staff_only: bool = False

    @property
    def url(self) -> str:
        return url_for(self.endpoint)


# The home page's slot (hospital/web/page_slots.py), keyed by the tile's endpoint.
HOME_TILES: PageSlot[Tile] = PageSlot("home.tiles")


def add_home_tile(tile: Tile) -> None:
    """Offer tile on the home page (adding the same endpoint again replaces it)."""
    HOME_TILES.add(tile.endpoint, tile, order=tile.order)


def home_tiles(*, signed_in: bool) -> list[Tile]:
    # A tile whose module is not registered in this app (e.g. a trimmed deployment) is left out.
    registered = current_app.view_functions if has_app_context() else None
    staff = signed_in and _signed_in_staff()
    return [
        t
        for t in HOME_TILES.fragments()
        if (signed_in or t.show_signed_out)
        and (staff or not t.staff_only)
        and (registered is None or t.endpoint in registered)
    ]


def _signed_in_staff() -> bool:
    if not has_request_context():
        return False
    from hospital.accounts.guards import current_account

    account = current_account()
    return account is not None and account.is_staff


# The reports module has no tile of its own yet; it belongs in reports/views.py.
add_home_tile(
    Tile(
        "reports_pages.inbox",
        _l("My reports"),
        _l("Lab and exam results, as PDF with a verification code"),
        order=40,
    )
)
