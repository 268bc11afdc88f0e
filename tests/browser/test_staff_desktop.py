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
    if s.name
    in {
        "styleguide",
        "staff-home",
        "queue-console",
        "lab-entry",
        "reports-awaiting-release",
        "admin-schedule",
        "billing-cashier",
        "report-statistics",
    }
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


NURSE_PASSWORD = "console-keys-pw-1"


@pytest.fixture
def console_site(live_server: Any) -> dict[str, Any]:
    from hospital.accounts.models import Role
    from hospital.db import db, utcnow
    from hospital.organisation.models import Hospital
    from tests.support import factories
    from tests.support import queueing_factories as qf

    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        point = factories.create_service_point(hospital, room="418", floor="4")
        qf.open_queue(point, now=utcnow())
        counter = qf.create_counter(point)
        nurse = factories.create_account(hospital, roles=(Role.NURSE,), password=NURSE_PASSWORD)
        first = qf.walk_in(hospital, point, now=utcnow())
        second = qf.walk_in(hospital, point, now=utcnow())
        site = {
            "counter_id": counter.id,
            "nurse": nurse.username,
            "codes": [first.code, second.code],
        }
        db.session.commit()
    return site


def _current(page: Any) -> str:
    return page.inner_text("#q-current")


def _enabled(page: Any) -> set[str]:
    return set(
        page.eval_on_selector_all(
            "[data-action]:not([disabled])", "(els) => els.map((b) => b.dataset.action)"
        )
    )


def test_console_keyboard_shortcuts_act_only_outside_fields_and_only_when_they_apply(
    page: Any, console_site: dict[str, Any]
) -> None:
    page.set_viewport_size(DESKTOP)
    signed = page.request.post(
        "/api/v1/auth/password",
        data={"login": console_site["nurse"], "password": NURSE_PASSWORD},
    )
    assert signed.ok, signed.text()
    page.goto(f"/queueing/console/{console_site['counter_id']}?lang=en")
    page.wait_for_function("() => document.getElementById('q-waiting-count').textContent === '2'")
    # The count comes with the page; the rows come with the first live snapshot (the script
    # fills the table), so wait for them rather than read the table at once.
    page.wait_for_function("() => document.querySelectorAll('#q-waiting tr').length === 2")
    # The header says the same count as the table.
    assert "2 waiting" in page.inner_text("[data-waiting-label]")
    assert page.locator("#q-waiting tr").count() == 2
    # Nobody at the counter: only calling (and pausing, undo) applies.
    assert {"call-next", "pause", "undo"} <= _enabled(page)
    assert not {"recall", "start", "complete", "missed", "transfer"} & _enabled(page)
    assert page.inner_text("#q-call-next").split()[-1] == "N"

    # Typing "n" in a field is typing, not calling.
    page.fill("#q-pause-reason", "")
    page.focus("#q-pause-reason")
    page.keyboard.type("n")
    assert page.input_value("#q-pause-reason") == "n"
    assert _current(page) == "—"

    first, second = console_site["codes"]
    page.locator("h1").click()  # focus leaves the field
    page.keyboard.press("n")
    page.wait_for_function(f"() => document.getElementById('q-current').textContent === '{first}'")
    page.wait_for_function("() => document.getElementById('q-waiting-count').textContent === '1'")
    assert "1 waiting" in page.inner_text("[data-waiting-label]")
    page.wait_for_function("() => !document.querySelector('[data-action=recall]').disabled")
    assert {"recall", "start", "complete", "missed"} <= _enabled(page)
    assert "call-next" not in _enabled(page)

    # M: missed, back into the line; N calls the next one; C completes it.
    page.keyboard.press("m")
    page.wait_for_function("() => document.getElementById('q-current').textContent === '—'")
    page.wait_for_function("() => !document.getElementById('q-call-next').disabled")
    page.keyboard.press("n")
    page.wait_for_function("() => document.getElementById('q-current').textContent !== '—'")
    called = _current(page)
    assert called in (first, second)
    page.wait_for_function("() => !document.querySelector('[data-action=complete]').disabled")
    page.keyboard.press("c")
    page.wait_for_function("() => document.getElementById('q-current').textContent === '—'")
    page.wait_for_function("() => document.getElementById('q-waiting-count').textContent === '1'")
    assert page.inner_text("#q-error") == ""
