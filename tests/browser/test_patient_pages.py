"""A patient in a real browser: sign in with a texted code, add an elderly parent, switch
language and elder mode, with the elder-mode sizes and contrast measured on the page."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest

from tests.browser.measure import (
    body_contrast,
    body_font_size,
    horizontal_overflow,
    sizes,
    text_contrasts,
)
from tests.support.factories import make_resident_id

pytestmark = pytest.mark.browser

_phones = itertools.count(1)
MAIN_ACTIONS = "main .button, main .tile, main .read-aloud"


def _new_phone() -> str:
    return f"1380000{next(_phones):04d}"


def _sign_in(page: Any, live_server: Any, phone: str) -> None:
    page.goto("/")
    page.click("[data-action=sign-in]")
    page.fill("#f-phone", phone)
    page.click("[data-action=send-code]")
    page.wait_for_selector("[data-code-sent]")
    page.fill("#f-code", live_server.sign_in_code(phone))
    page.click("[data-action=verify-code]")
    # A new account: the privacy notice, once.
    page.wait_for_url(lambda url: "/privacy?next=" in url)
    page.click("[data-action=accept-privacy]")
    page.wait_for_url(f"{live_server.url}/")  # signed in: the home page
    page.click("[data-action='tile-patients_pages.family']")
    page.wait_for_url("**/family")


def test_a_patient_signs_in_with_a_texted_code(page: Any, live_server: Any) -> None:
    phone = _new_phone()
    page.goto("/")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.inner_text("header .brand span") == "示范人民医院"

    page.click("[data-action=sign-in]")
    page.fill("#f-phone", phone)
    page.click("[data-action=send-code]")

    sent = page.inner_text("[data-code-sent]")
    assert phone[:3] + "****" + phone[-4:] in sent
    # The resend button waits, and says how long.
    assert page.is_disabled("[data-action=resend-code]")
    assert page.is_visible("[data-countdown-seconds]")

    page.fill("#f-code", live_server.sign_in_code(phone))
    page.click("[data-action=verify-code]")
    # A new account: the privacy notice, once.
    page.wait_for_url(lambda url: "/privacy?next=" in url)
    page.click("[data-action=accept-privacy]")
    page.wait_for_url(f"{live_server.url}/")  # signed in: the home page
    page.click("[data-action='tile-patients_pages.family']")
    page.wait_for_url("**/family")
    assert page.inner_text("h1") == "我的家庭成员"
    assert page.is_visible("[data-action=sign-out]")


def test_a_wrong_code_is_explained_on_the_page(
    page: Any, live_server: Any, browser_problems: Any
) -> None:
    browser_problems.allow(r"status of 4\d\d")  # the refused form comes back with its 4xx status
    phone = _new_phone()
    page.goto("/sign-in?lang=en")
    page.fill("#f-phone", phone)
    page.click("[data-action=send-code]")
    code = live_server.sign_in_code(phone)

    page.fill("#f-code", "000000" if code != "000000" else "111111")
    page.click("[data-action=verify-code]")

    alert = page.locator("[role=alert]")
    assert "code" in alert.inner_text().lower()
    # The script moves keyboard focus to the error, so a screen reader announces it.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.hasAttribute('data-form-error')"
    )


def test_a_patient_adds_an_elderly_parent_without_a_phone(page: Any, live_server: Any) -> None:
    _sign_in(page, live_server, _new_phone())
    page.click("[data-action=add-member]")

    page.select_option("#f-relationship", "parent")
    page.fill("#f-name", "王秀英")
    page.select_option("#f-sex", "female")
    page.fill("#f-birth_date", "1948-02-03")
    page.select_option("#f-id_type", "resident_id")
    number = make_resident_id(date(1948, 2, 3), male=False)
    page.fill("#f-id_number", number)
    page.uncheck("#f-can_pay")
    page.click("[data-action=save-member]")

    page.wait_for_url("**/family")
    assert "王秀英" in page.inner_text("[role=status]")
    card = page.locator("[data-family-member]", has_text="王秀英")
    assert "父母" in card.inner_text()
    assert number not in card.inner_text()
    assert number[:6] + "********" + number[-4:] in card.inner_text()
    assert card.locator("[data-permissions]").inner_text() == "预约挂号, 查看检查检验报告"


def test_the_language_switch_changes_the_page_and_back(page: Any, live_server: Any) -> None:
    _sign_in(page, live_server, _new_phone())
    assert page.inner_text("h1") == "我的家庭成员"

    page.click("[data-switch=lang-en]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "My family members"
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("header .brand span") == "Demo People's Hospital"
    assert page.get_attribute("[data-switch=lang-en]", "aria-pressed") == "true"
    page.reload()
    assert page.inner_text("h1") == "My family members"

    page.click("[data-switch=lang-zh]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "我的家庭成员"
    assert page.get_attribute("html", "lang") == "zh-Hans"


def _switch_on_elder_mode_and_measure(page: Any) -> None:
    assert page.get_attribute("body", "class") == "standard"
    assert page.is_hidden("[data-read-aloud]")
    weak = [t for t in text_contrasts(page) if t["ratio"] < 4.5]
    assert not weak, weak

    page.click("[data-switch=elder]")
    page.wait_for_load_state()

    assert page.get_attribute("body", "class") == "elder"
    assert page.get_attribute("[data-switch=elder]", "aria-pressed") == "true"
    assert body_font_size(page) >= 18
    assert body_contrast(page) >= 7
    actions = sizes(page, MAIN_ACTIONS)
    assert actions, "no main actions found on the page"
    for action in actions:
        assert action["fontSize"] >= 30, action
        assert action["width"] >= 60 and action["height"] >= 60, action
    # A checkbox's target is its row: the label toggles it too.
    targets = "header button, header a, main input:not([type=checkbox]), main select, main .check"
    for control in sizes(page, targets):
        assert control["width"] >= 60 and control["height"] >= 60, control
    # WCAG asks 4.5:1 of normal text; elder mode aims for the enhanced 7:1 everywhere.
    weak = [t for t in text_contrasts(page) if t["ratio"] < 7]
    assert not weak, weak
    # Elder mode simplifies the layout but hides nothing: secondary links and hints stay.
    assert len(sizes(page, "main .secondary")) == page.locator("main .secondary").count()
    # Read-aloud is offered where the browser can speak.
    if page.evaluate("() => 'speechSynthesis' in window"):
        assert page.is_visible("[data-read-aloud]")


@pytest.mark.parametrize("path", ["/", "/family", "/family/add"])
def test_elder_mode_has_large_type_big_targets_and_strong_contrast(
    page: Any, live_server: Any, path: str
) -> None:
    _sign_in(page, live_server, _new_phone())
    page.goto(path)
    _switch_on_elder_mode_and_measure(page)


@pytest.mark.parametrize("path", ["/", "/sign-in", "/sign-in/password"])
def test_elder_mode_sizes_on_pages_before_signing_in(page: Any, path: str) -> None:
    page.goto(path)
    _switch_on_elder_mode_and_measure(page)


def test_switching_on_the_code_step_stays_on_the_code_step(page: Any) -> None:
    phone = _new_phone()
    page.goto("/sign-in")
    page.fill("#f-phone", phone)
    page.click("[data-action=send-code]")
    page.wait_for_selector("[data-code-sent]")

    page.click("[data-switch=lang-en]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Enter your code"
    _switch_on_elder_mode_and_measure(page)
    assert page.get_attribute("#f-code", "name") == "code"
    assert page.input_value("input[name=phone]") == phone


def test_elder_mode_reads_the_page_aloud_in_its_language(page: Any, live_server: Any) -> None:
    page.add_init_script(
        """
        window.__spoken = [];
        const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
        window.speechSynthesis.speak = (u) => { window.__spoken.push({text: u.text, lang: u.lang}); };
        """
    )
    page.goto("/?lang=zh")
    page.click("[data-switch=elder]")
    page.wait_for_load_state()

    page.click("[data-read-aloud]")

    spoken = page.evaluate("() => window.__spoken")
    assert len(spoken) == 1
    assert spoken[0]["lang"] == "zh-CN"
    assert "示范人民医院" in spoken[0]["text"]


def test_elder_mode_is_remembered_across_pages_and_can_be_switched_off(page: Any) -> None:
    page.goto("/")
    page.click("[data-switch=elder]")
    page.wait_for_load_state()
    page.goto("/sign-in")
    assert page.get_attribute("body", "class") == "elder"

    page.click("[data-switch=elder]")
    page.wait_for_load_state()
    assert page.get_attribute("body", "class") == "standard"


@pytest.mark.parametrize("elder", [False, True])
def test_pages_fit_a_320_pixel_screen(page: Any, live_server: Any, elder: bool) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    _sign_in(page, live_server, _new_phone())
    if elder:
        page.click("[data-switch=elder]")
        page.wait_for_load_state()
    for path in ("/", "/family", "/family/add", "/sign-in?lang=en"):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, path


def test_the_skip_link_appears_on_keyboard_focus(page: Any) -> None:
    page.goto("/")
    page.keyboard.press("Tab")

    focused = page.evaluate("() => document.activeElement.className")
    assert focused == "skip-link"
    box = page.locator(".skip-link").bounding_box()
    assert box["y"] >= 0
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
