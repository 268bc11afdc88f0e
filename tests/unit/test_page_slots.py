"""A page slot: fragments by key, in order; adding a key again replaces its fragment."""

from __future__ import annotations

from hospital.web.page_slots import STAFF_SUMMARIES, STATISTICS_SECTIONS, PageSlot
from hospital.web.tiles import HOME_TILES


def test_fragments_come_in_order_then_key_and_a_key_added_again_replaces() -> None:
    slot: PageSlot[str] = PageSlot("test.page")
    slot.add("b", "second", order=20)
    slot.add("a", "first of two at 20", order=20)
    slot.add("c", "early", order=5)
    assert slot.fragments() == ["early", "first of two at 20", "second"]
    slot.add("c", "late now", order=99)
    assert slot.fragments() == ["first of two at 20", "second", "late now"]
    assert slot.get("b") == "second" and slot.get("missing") is None
    slot.remove("b")
    slot.remove("never there")
    assert slot.fragments() == ["first of two at 20", "late now"]


def test_each_page_has_its_own_named_slot() -> None:
    names = {STATISTICS_SECTIONS.name, STAFF_SUMMARIES.name, HOME_TILES.name}
    assert names == {"reports.statistics", "staff_home.summaries", "home.tiles"}
