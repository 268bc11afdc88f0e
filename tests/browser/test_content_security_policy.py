"""Every page type runs under the Content-Security-Policy without a single violation (an inline
script without the nonce, an inline event handler, a plugin, a frame), and the API docs work."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import (  # noqa: F401 (fixtures)
    SCREENS,
    Screen,
    a11y_world_fixture,
    screen_params,
    visit_fixture,
)

pytestmark = pytest.mark.browser

# Collected in the page itself, so a violation is caught even if the console line changes.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} ` +
                              `at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _violations(page: Any) -> list[str]:
    return page.evaluate("() => window.__cspViolations || []")


@pytest.mark.parametrize("screen", screen_params())
def test_page_runs_without_a_content_security_policy_violation(
    visit: Any, page: Any, screen: Screen, browser_problems: Any
) -> None:
    page.add_init_script(LISTEN)
    response = visit(screen)
    policy = response.headers.get("content-security-policy", "")
    assert "'nonce-" in policy and "frame-ancestors 'none'" in policy
    page.wait_for_load_state("load")
    assert not _violations(page), f"{screen.name}: {_violations(page)}"
    # The page fixture also fails the test on the console line Chromium writes for one.
    assert not [p for p in browser_problems.found if "Content Security Policy" in p]


def test_the_api_docs_render_under_the_policy(page: Any, live_server: Any) -> None:
    page.add_init_script(LISTEN)
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert not _violations(page)


def test_every_screen_is_checked() -> None:
    assert len(SCREENS) >= 25
