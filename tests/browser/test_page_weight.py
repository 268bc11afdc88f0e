"""Patient pages are light and robust: under 150 KB on first load (fonts excepted), nothing from
another host, and the main content is there with JavaScript switched off."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.a11y import (  # noqa: F401 (fixtures)
    Screen,
    a11y_world_fixture,
    preference_cookies,
    screen_params,
    session_cookie,
    session_for,
    visit_fixture,
)

pytestmark = pytest.mark.browser

BUDGET_BYTES = 150 * 1024


@pytest.mark.parametrize("elder", [False, True], ids=["standard", "elder"])
@pytest.mark.parametrize("screen", screen_params(patient_only=True))
def test_patient_page_is_under_150_kb_on_first_load_and_all_from_our_host(
    visit: Any, page: Any, live_server: Any, screen: Screen, elder: bool
) -> None:
    loaded: list[tuple[str, str, int]] = []

    def count(response: Any) -> None:
        request = response.request
        if request.resource_type == "font":
            return
        # The body as it came over the wire (compressed if it was), as the browser counts it.
        loaded.append((request.resource_type, response.url, request.sizes()["responseBodySize"]))

    page.on("requestfinished", lambda request: count(request.response()))
    visit(screen, lang="zh", elder=elder)
    page.wait_for_load_state("networkidle")

    total = sum(size for _, _, size in loaded)
    listing = "\n".join(f"  {size:>8} B  {kind:<10} {url}" for kind, url, size in loaded)
    print(f"{screen.name} ({'elder' if elder else 'standard'}): {total} B\n{listing}")
    # The page itself is counted (its own finish may be reported after its parts').
    assert [kind for kind, _, _ in loaded].count("document") == 1, listing
    assert total < BUDGET_BYTES, f"{screen.name} loads {total} B:\n{listing}"
    own_host = urlsplit(live_server.url).netloc
    assert {urlsplit(url).netloc for _, url, _ in loaded} == {own_host}


@pytest.fixture
def page_without_javascript(browser: Any, live_server: Any) -> Any:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        java_script_enabled=False,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("screen", screen_params(patient_only=True))
def test_patient_page_main_content_renders_without_javascript(
    page_without_javascript: Any,
    live_server: Any,
    a11y_world: dict[str, Any],
    screen: Screen,
    lang: str,
) -> None:
    page = page_without_javascript
    cookies = preference_cookies(live_server.url, lang=lang, elder=False)
    if screen.who is not None:
        data = session_for(live_server.app, a11y_world, screen.who)
        cookies.append(session_cookie(live_server.app, live_server.url, data))
    page.context.add_cookies(cookies)

    response = page.goto(screen.url(a11y_world))

    assert response is not None and response.ok
    assert page.locator("main h1").count() == 1
    assert page.is_visible("main h1") and page.inner_text("main h1").strip()
    assert page.locator(screen.primary).count() >= 1, f"{screen.primary} missing on {screen.name}"
    assert page.is_visible(screen.primary)


def test_no_javascript_really_means_no_script_runs(page_without_javascript: Any) -> None:
    """The check above can fail: scripts do not run in that context."""
    page = page_without_javascript
    page.goto("/")
    page.add_script_tag(content="document.body.dataset.ran = 'yes'")
    assert page.get_attribute("body", "data-ran") is None
