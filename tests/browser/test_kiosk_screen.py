"""The kiosk full screen on its 1080 x 1920 portrait touch screen: the start screen fills it, the
on-screen keypad types a phone number, a code and an ID number (X included; delete and clear; a
keyboard still types), every department in one scrolling grid, a walk-in without a phone gets a
slip for the registration desk, elder mode is much larger, and axe finds nothing serious."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import axe_violations, describe_violations
from tests.browser.test_kiosk_flows import (  # noqa: F401 (the autouse fixture)
    RECORDERS,
    START,
    TICKET,
    Hall,
    _daytime,
    _seed,
    _seed_walk_in_queue,
    _tickets,
    walk_in_fee,
)

pytestmark = pytest.mark.browser

PORTRAIT = {"width": 1080, "height": 1920}


def _open(page: Any, live_server: Any, hall: Hall, lang: str = "zh") -> None:
    page.set_viewport_size(PORTRAIT)
    page.context.add_cookies(
        [{"name": "device_token", "value": hall.token, "url": live_server.url}]
    )
    page.add_init_script(RECORDERS)
    page.goto(f"/kiosk?lang={lang}")
    page.wait_for_selector(START)


def _keys(page: Any, screen: str, text: str) -> None:
    """Touch the keypad's keys of the screen, one per character."""
    for character in text:
        page.click(f'[data-screen="{screen}"] [data-key="{character}"]')


def _axe_clean(page: Any) -> None:
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)


def test_the_start_screen_fills_the_portrait_screen_with_large_targets(
    page: Any, live_server: Any
) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall)
    boxes = page.eval_on_selector_all(
        '[data-screen="start"] button.choice:not([hidden])',
        "bs => bs.map(b => { const r = b.getBoundingClientRect(); return [r.top, r.bottom, r.height]; })",
    )
    assert max(bottom for _top, bottom, _h in boxes) > 1920 * 0.75, boxes
    assert min(height for _top, _bottom, height in boxes) >= 150, boxes
    assert page.evaluate("() => document.scrollingElement.scrollWidth") == 1080
    _axe_clean(page)

    standard = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#kiosk h1')).fontSize)"
    )
    page.click("[data-action=elder]")
    elder = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#kiosk h1')).fontSize)"
    )
    assert elder >= standard * 1.3, (standard, elder)
    _axe_clean(page)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_phone_and_code_typed_on_the_keypad_check_in(
    page: Any, live_server: Any, lang: str
) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-phone]")
    phone = '[data-screen="phone"]'
    assert page.get_attribute("#k-phone", "inputmode") == "none"  # no system keyboard
    _keys(page, "phone", "139")
    page.click(f"{phone} [data-key=clear]")
    assert page.input_value("#k-phone") == ""
    _keys(page, "phone", hall.phone + "7")  # one key too many: the field holds 11
    assert page.input_value("#k-phone") == hall.phone
    _keys(page, "phone", "")
    page.click(f"{phone} [data-key=back]")
    assert page.input_value("#k-phone") == hall.phone[:-1]
    _keys(page, "phone", hall.phone[-1])
    _axe_clean(page)
    page.click("[data-action=send-code]")
    page.wait_for_selector('[data-screen="code"]:not([hidden])')
    _keys(page, "code", live_server.sign_in_code(hall.phone))
    page.click("[data-action=verify-code]")
    page.wait_for_selector(TICKET)
    assert page.inner_text("[data-slip-name]") == "王*明"
    assert _tickets(live_server, hall.appointment_id) == 1


def test_an_id_number_typed_on_the_keypad_or_the_keyboard_checks_in(
    page: Any, live_server: Any
) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-id]")
    assert page.is_visible('[data-screen="id"] [data-key="X"]')
    # A keyboard types too, and a small x becomes the check character X.
    page.keyboard.type("12x")
    assert page.input_value("#k-id") == "12X"
    page.click('[data-screen="id"] [data-key=clear]')
    _keys(page, "id", hall.id_number)
    assert page.input_value("#k-id") == hall.id_number
    _axe_clean(page)
    page.click('[data-screen="id"] button[type=submit]')
    page.wait_for_selector(TICKET)
    assert _tickets(live_server, hall.appointment_id) == 1


def test_every_department_is_in_one_scrolling_grid(page: Any, live_server: Any) -> None:
    hall = _seed(live_server)
    for _ in range(6):
        _seed(live_server)
    _open(page, live_server, hall)
    page.click("[data-action=walk-in]")
    page.wait_for_selector('[data-screen="departments"]:not([hidden]) [data-department]')
    shown = page.eval_on_selector_all("[data-department]", "bs => bs.length")
    assert shown >= 7  # no paging five at a time
    assert page.query_selector("[data-action=more-departments]") is None
    _axe_clean(page)
    page.click(f'[data-department="{hall.department_id}"]')
    page.wait_for_selector('[data-screen="identify"]:not([hidden])')


@pytest.mark.usefixtures("walk_in_fee")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_walk_in_without_a_phone_gets_a_slip_for_the_desk(
    page: Any, live_server: Any, lang: str
) -> None:
    hall = _seed_walk_in_queue(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=walk-in]")
    page.click(f'[data-department="{hall.department_id}"]')
    # A fee is due: no anonymous ticket, but a way without a phone.
    assert page.is_hidden("[data-action=anonymous]")
    page.click("[data-action=no-phone]")
    page.wait_for_selector('[data-screen="desk"]:not([hidden])')
    page.wait_for_function("() => window.__printed === 1")  # the slip is printed at once
    slip = page.inner_text("[data-desk-slip]")
    assert "急诊内科" in slip or "Urgent care" in slip
    assert "8.00" in slip and "挂号窗口" in slip and "registration desk" in slip
    _axe_clean(page)
    page.click('[data-screen="desk"] [data-action=print-desk-slip]')
    page.wait_for_function("() => window.__printed === 2")
    page.click('[data-screen="desk"] [data-action=done]')
    page.wait_for_selector(START)
    assert page.inner_text("[data-desk-department]") == ""


def test_a_free_walk_in_is_not_sent_to_the_desk(page: Any, live_server: Any) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall)
    page.click("[data-action=walk-in]")
    page.click(f'[data-department="{hall.department_id}"]')
    assert page.is_visible("[data-action=anonymous]")
    assert page.is_hidden("[data-action=no-phone]")
