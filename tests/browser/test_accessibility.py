"""axe-core on every page type, in Chinese and English, standard and elder mode: zero serious or
critical WCAG 2.x A/AA violations; and elder mode holds its layout at 320 px and at 200 % zoom."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import (  # noqa: F401 (fixtures)
    LANGUAGES,
    Screen,
    a11y_world_fixture,
    axe_violations,
    describe_violations,
    screen_params,
    visit_fixture,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("screen", screen_params())
def test_page_has_no_serious_or_critical_accessibility_violations(
    visit: Any, page: Any, screen: Screen, lang: str, elder: bool
) -> None:
    visit(screen, lang=lang, elder=elder)
    assert page.get_attribute("body", "class").startswith("elder" if elder else "standard")
    assert page.get_attribute("html", "lang") == {"zh": "zh-Hans", "en": "en"}[lang]

    violations = axe_violations(page)

    assert not violations, (
        f"axe-core found {len(violations)} serious/critical problem(s) on {screen.name} "
        f"({lang}, {'elder' if elder else 'standard'} mode):\n" + describe_violations(violations)
    )


def _sideways_overflow(page: Any) -> int:
    return page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )


def _too_wide(page: Any) -> list[str]:
    """The innermost elements reaching past the viewport's right edge: what scrolls sideways."""
    return page.evaluate(
        """() => {
          const edge = document.documentElement.clientWidth + 0.5;
          const over = (el) => el.getBoundingClientRect().right > edge;
          return [...document.body.querySelectorAll('*')]
            .filter((el) => over(el) && ![...el.children].some(over))
            .slice(0, 8)
            .map((el) => `${el.tagName.toLowerCase()}.${el.className} ` +
                         `right=${Math.round(el.getBoundingClientRect().right)}: ` +
                         el.outerHTML.slice(0, 100));
        }"""
    )


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("screen", screen_params())
def test_elder_mode_fits_a_320_px_screen_without_sideways_scrolling(
    visit: Any, page: Any, screen: Screen, lang: str
) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    visit(screen, lang=lang, elder=True)

    assert _sideways_overflow(page) <= 0, _too_wide(page)


def _zoom(page: Any, *, window_width: int, window_height: int, percent: int) -> None:
    """Show the page as a desktop window of that size zoomed to percent.

    Browser zoom divides the CSS viewport by the zoom factor and draws each CSS px with that
    many device pixels: a 1280 x 800 window at 200 % is a 640 x 400 CSS px viewport at device
    scale factor 2, media queries included. Chromium's device-metrics override does exactly
    that on the open tab. (CSS `zoom` on <html> would not: it leaves the viewport and the media
    queries at 100 %, so it cannot show a layout that breaks when zoomed.)
    """
    scale = percent / 100
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": int(window_width / scale),
            "height": int(window_height / scale),
            "deviceScaleFactor": scale,
            "mobile": False,
        },
    )


@pytest.mark.parametrize("window", [(1280, 800), (640, 800)], ids=["1280px", "640px"])
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("screen", screen_params())
def test_elder_mode_holds_at_200_percent_zoom(
    visit: Any, page: Any, screen: Screen, lang: str, window: tuple[int, int]
) -> None:
    width, height = window
    _zoom(page, window_width=width, window_height=height, percent=200)
    visit(screen, lang=lang, elder=True)
    assert page.evaluate("() => [window.innerWidth, window.devicePixelRatio]") == [width // 2, 2]

    assert _sideways_overflow(page) <= 0, _too_wide(page)


def test_axe_reports_a_real_violation(visit: Any, page: Any) -> None:
    """The check can fail: a nameless button and an unlabelled field on the page are reported."""
    visit(screen_params()[0].values[0])
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('beforeend',
             '<button type="button"></button><input type="text">')"""
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"button-name", "label"} <= found, describe_violations(axe_violations(page))
