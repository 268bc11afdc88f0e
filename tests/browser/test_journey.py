"""The whole patient journey through the pages, in Chinese and again in English.

A patient signs in with a texted code, adds an elderly parent without a phone, books an expert
slot for the parent, pays in the sandbox, sees the booking and downloads it for the calendar; at
the kiosk the parent scans the booking QR and a ticket prints; the patient's phone shows the place
in line live; the nurse calls, the board shows the masked name and room and says it; the doctor
finishes the visit and orders a blood test; the patient pays it from the phone; the lab posts the
result (released at once by the test's rule); the patient is texted, opens the report, downloads
the PDF and checks it on the public verification page.

Staff set-up (clinic, room, queue, kiosk, accounts, fee schedule) is seeded; everything the
journey's people do goes through the pages. The only shortcuts: the one-time code is read from the
log channel, and the scheduler's jobs (outbox delivery, sandbox notifications) are run by the test.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser import journey_steps as steps
from tests.browser.journey_steps import (
    AHEAD_NAME,
    EXPERT_FEE,
    LAB_FEE,
    PARENT,
    PARENT_MASKED,
    TEST_CODE,
    TEXT,
)
from tests.support.factories import make_resident_id

pytestmark = pytest.mark.browser

_phones = itertools.count(1)


@pytest.fixture
def site(live_server: Any) -> Any:
    with steps.daytime_hospital(live_server), steps.payments_reach_this_server(live_server):
        yield steps.seed(live_server)


def _tile(page: Any, endpoint: str, title: str) -> None:
    """Click the home page tile that leads to endpoint, after checking what it says."""
    tile = page.locator(f"main .tiles [data-action='tile-{endpoint}']")
    assert tile.locator("strong").inner_text() == title
    tile.click()


def _sign_in_and_add_parent(page: Any, live_server: Any, lang: str, phone: str) -> None:
    t = TEXT[lang]
    page.goto("/")
    if lang == "en":
        page.click("[data-switch=lang-en]")
        page.wait_for_load_state()
    page.click("[data-action=sign-in]")
    page.fill("#f-phone", phone)
    page.click("[data-action=send-code]")
    page.wait_for_selector("[data-code-sent]")
    assert phone[:3] + "****" + phone[-4:] in page.inner_text("[data-code-sent]")
    page.fill("#f-code", live_server.sign_in_code(phone))
    page.click("[data-action=verify-code]")
    # A new account: the privacy notice, once.
    page.wait_for_url(lambda url: "/privacy?next=" in url)
    page.click("[data-action=accept-privacy]")
    page.wait_for_url(f"{live_server.url}/")  # signed in: the home page
    page.click("[data-action='tile-patients_pages.family']")
    page.wait_for_url("**/family")
    assert page.inner_text("h1") == t["family"]

    page.click("[data-action=add-member]")
    page.select_option("#f-relationship", "parent")
    page.fill("#f-name", PARENT)
    page.select_option("#f-sex", "female")
    page.fill("#f-birth_date", "1946-03-08")
    page.select_option("#f-id_type", "resident_id")
    page.fill("#f-id_number", make_resident_id(date(1946, 3, 8), male=False, serial=next(_phones)))
    # No phone number: the parent has none. The patient may pay for the parent (the default).
    assert page.input_value("#f-phone") == ""
    page.click("[data-action=save-member]")
    page.wait_for_url("**/family")
    card = page.locator("[data-family-member]", has_text=PARENT)
    assert t["parent"] in card.inner_text()


def _book_and_pay(page: Any, live_server: Any, site: Any, lang: str) -> str:
    """Book the expert slot for the parent and pay; return the kiosk code the phone shows."""
    t = TEXT[lang]
    page.goto("/")
    _tile(page, "scheduling_pages.book", t["book"])
    page.wait_for_url("**/book")
    department = site.department if lang == "zh" else f"Cardiology {site.n}"
    page.fill("#f-q", department)
    page.press("#f-q", "Enter")
    page.click(f"[data-departments] a:has-text('{department}')")
    card = page.locator(f"[data-session='{site.session_id}']")
    assert t["expert"] in card.inner_text() and EXPERT_FEE in card.inner_text()
    card.locator("a.button").click()

    # The first time still open: it starts within the quarter hour, so check-in is open today.
    page.locator("input[name=slot_id]:not([disabled])").first.check()
    page.locator(".check", has_text=PARENT).locator("input[name=patient_id]").check()
    page.click("[data-action=hold]")
    page.wait_for_url("**/confirm")
    assert PARENT in page.inner_text("[data-appointment]")
    assert EXPERT_FEE in page.inner_text("[data-fee]")
    assert page.is_visible("[data-pay-first]")
    page.click("[data-action=confirm]")

    # Billing's pay page, then the sandbox provider's hosted checkout.
    page.wait_for_url("**/billing/orders/*/pay")
    assert EXPERT_FEE in page.inner_text("[data-self-pay]")
    assert PARENT in page.inner_text("main")
    page.click("[data-action=pay]")
    page.wait_for_url("**/billing/sandbox/checkout/*")
    assert EXPERT_FEE in page.inner_text("[data-amount]")
    page.click("[data-outcome=success]")
    page.wait_for_url("**/billing/orders/*/result")
    # The provider's signed notification arrives asynchronously; the page says it waits for it.
    assert page.is_visible("[data-result=waiting]")
    steps.deliver_sandbox_notifications(live_server)
    page.reload()
    assert page.is_visible("[data-result=paid]")

    # The confirmation: the booking in "my appointments", with its QR and a calendar file.
    page.click("[data-action=next-step]")
    page.wait_for_url("**/appointments")
    booking = page.locator("[data-appointment][data-state=booked]", has_text=PARENT)
    assert t["booked"] in booking.inner_text()
    with page.expect_download() as download:
        booking.locator("[data-action=calendar]").click()
    ics = Path(download.value.path()).read_text(encoding="utf-8")
    assert "BEGIN:VEVENT" in ics and "DTSTART" in ics
    assert booking.locator("[data-check-in-code] svg").count() == 1
    return booking.locator("[data-check-in-code]").get_attribute("data-check-in-code")


def _check_in_at_the_kiosk(kiosk: Any, live_server: Any, site: Any, lang: str, code: str) -> str:
    """The parent scans the booking QR; return the ticket's token."""
    t = TEXT[lang]
    kiosk.context.add_cookies(
        [{"name": "device_token", "value": site.kiosk_token, "url": live_server.url}]
    )
    kiosk.add_init_script(steps.KIOSK_RECORDERS)
    kiosk.goto(f"/kiosk?lang={lang}")
    kiosk.wait_for_selector('[data-screen="start"]:not([hidden])')
    kiosk.click("[data-action=check-in]")
    kiosk.click("[data-action=by-qr]")
    kiosk.click("#k-scan")
    kiosk.keyboard.type(code)  # a USB scanner types what the QR says, then Enter
    kiosk.keyboard.press("Enter")
    kiosk.wait_for_selector('[data-screen="ticket"]:not([hidden])')
    assert t["here"] in kiosk.inner_text('[data-screen="ticket"] h1')
    assert kiosk.inner_text("[data-slip-name]") == PARENT_MASKED
    assert PARENT not in kiosk.inner_text("#kiosk")
    kiosk.wait_for_function(
        "() => window.__printed === 1"
    )  # no network printer: the browser prints
    assert t["printing"] in kiosk.inner_text("[data-print-status]")
    number = kiosk.inner_text("[data-slip-number]")
    token = urlsplit(kiosk.get_attribute("#slip", "data-ticket-url")).path.rsplit("/", 1)[-1]

    # The same slip as a PDF, as a kiosk printer driver would fetch it.
    pdf = kiosk.context.request.get(f"/api/v1/kiosk/tickets/{token}/ticket.pdf")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    printed = steps.pdf_text(pdf.body())
    assert number in printed and PARENT_MASKED in printed and PARENT not in printed
    return number


def _phone_shows_place_in_line(page: Any, lang: str, number: str) -> None:
    t = TEXT[lang]
    page.goto("/")
    _tile(page, "queueing_pages.my_tickets", t["tickets"])
    page.wait_for_url("**/tickets")
    page.locator(f"[data-ticket='{number}']").locator("[data-action=open-ticket]").click()
    page.wait_for_url("**/q/*")
    assert page.inner_text("#q-number") == number
    page.wait_for_function("() => document.getElementById('q-ahead').dataset.ahead === '1'")
    assert TEXT[lang]["one_ahead"] in page.inner_text("#q-ahead")


def _board_and_console(
    browser: Any, live_server: Any, problems: Any, site: Any, lang: str
) -> tuple[Any, Any]:
    hall, board = steps.watched(browser, live_server, problems, viewport=(1920, 1080), lang=lang)
    board.add_init_script(steps.BOARD_RECORDERS)
    # The board has nothing to press: a hall screen turns its sound on by its address.
    board.goto(f"/queueing/board?points={site.point_id}&sound=1")
    desk, console = steps.watched(browser, live_server, problems, viewport=(1280, 900), lang=lang)
    steps.staff_sign_in(console, site.nurse, f"/queueing/console/{site.counter_id}")
    console.wait_for_function(
        "() => document.getElementById('q-waiting-count').textContent === '2'"
    )
    return (hall, board), (desk, console)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_patient_books_for_a_parent_and_follows_the_visit_to_a_verified_report(
    page: Any, browser: Any, live_server: Any, browser_problems: Any, site: Any, lang: str
) -> None:
    t = TEXT[lang]
    phone = f"1390000{next(_phones):04d}"
    contexts: list[Any] = []
    try:
        # 1-2. Sign in with a texted code; add the elderly parent, who has no phone.
        _sign_in_and_add_parent(page, live_server, lang, phone)

        # 3-5. Book an expert slot for the parent, pay in the sandbox, see it and save it.
        code = _book_and_pay(page, live_server, site, lang)

        # 6-7. On the day, at the kiosk: scan the booking QR; the ticket prints.
        hall_kiosk, kiosk = steps.watched(
            browser, live_server, browser_problems, viewport=(1280, 1000), lang=lang
        )
        contexts.append(hall_kiosk)
        number = _check_in_at_the_kiosk(kiosk, live_server, site, lang, code)

        # 8. The patient's phone shows the place in line.
        _phone_shows_place_in_line(page, lang, number)

        # 9. The nurse calls: first the patient who was already waiting; the phone updates live.
        (hall, board), (desk, console) = _board_and_console(
            browser, live_server, browser_problems, site, lang
        )
        contexts += [hall, desk]
        console.click("#q-call-next")
        board.wait_for_function(
            f"() => document.getElementById('q-now').dataset.code === '{site.ahead_code}'"
        )
        page.wait_for_function("() => document.getElementById('q-ahead').dataset.ahead === '0'")
        console.click("[data-action=complete]")
        console.wait_for_function("() => document.getElementById('q-current').textContent === '—'")
        console.click("#q-call-next")

        # 10. The board shows the masked name and the room, and says it; the phone is called.
        board.wait_for_function(
            f"() => document.getElementById('q-now').dataset.code === '{number}'"
        )
        now_showing = board.inner_text("#q-now")
        assert PARENT_MASKED in now_showing and site.room in now_showing
        assert PARENT not in board.content() and AHEAD_NAME not in board.content()
        board.wait_for_function(f"() => window.spoken.some(u => u.text.includes('{number[0]}'))")
        spoken = board.evaluate("window.spoken")
        assert {u["lang"] for u in spoken} >= {"zh-CN", "en-US"}
        assert all("*" not in u["text"] and PARENT not in u["text"] for u in spoken)
        page.wait_for_function(
            "() => document.getElementById('q-status').dataset.status === 'called'"
        )
        assert site.room in page.inner_text("#q-ahead")

        # 11. The doctor finishes the visit and orders a blood test from the console.
        doctor_desk, doctor = steps.watched(
            browser, live_server, browser_problems, viewport=(1280, 900), lang=lang
        )
        contexts.append(doctor_desk)
        steps.staff_sign_in(doctor, site.doctor, f"/queueing/console/{site.counter_id}")
        doctor.wait_for_function(
            f"() => document.getElementById('q-current').textContent.includes('{number}')"
        )
        doctor.check(f"#order-{site.lab_item_id}")
        doctor.click("[data-action-form=complete-and-order]")
        doctor.wait_for_url(f"**/queueing/console/{site.counter_id}")
        flashed = doctor.inner_text("[role=status]")
        assert number in flashed and PARENT_MASKED in flashed and LAB_FEE in flashed

        # 12. The patient pays the lab order from the phone.
        page.goto("/")
        _tile(page, "billing_pages.my_orders", t["orders"])
        page.wait_for_url("**/billing/orders")
        lab_order = page.locator("[data-order]", has_text=t["lab_item"]).first
        assert PARENT in lab_order.inner_text() and LAB_FEE in lab_order.inner_text()
        lab_order.locator("a.button.primary").click()
        page.wait_for_url("**/billing/orders/*/pay")
        order_id = re.search(r"/orders/(\d+)/pay", page.url).group(1)
        assert LAB_FEE in page.inner_text("[data-self-pay]")
        page.click("[data-action=pay]")
        page.click("[data-outcome=success]")
        page.wait_for_url("**/billing/orders/*/result")
        steps.deliver_sandbox_notifications(live_server)
        page.reload()
        assert page.is_visible("[data-result=paid]")

        # 13. The lab posts the result on its page; the test's rule releases it at once.
        lab_desk, lab = steps.watched(
            browser, live_server, browser_problems, viewport=(1280, 900), lang=lang
        )
        contexts.append(lab_desk)
        steps.staff_sign_in(lab, site.lab, "/reports/lab/new")
        lab.fill("input[name=patient]", steps.medical_record_number(live_server, PARENT))
        lab.fill("input[name=test_code]", TEST_CODE)
        lab.fill("input[name=test_name]", "血常规 Complete blood count")
        lab.fill("input[name=order_reference]", f"visit-order:{order_id}")
        lab.fill(
            "textarea[name=results]",
            "白细胞 WBC | 6.1 | 10^9/L | 3.5-9.5\n血红蛋白 HGB | 128 | g/L | 115-150",
        )
        lab.fill("input[name=signed_by]", "赵检验")
        lab.click("main form button[type=submit]")
        lab.wait_for_url("**/reports/*")
        assert lab.get_attribute("[data-status]", "data-status") == "ready"

        # 14. The patient is texted, opens the report, downloads the PDF and verifies it.
        link = steps.latest_sms(live_server, phone, r"https?://\S+/reports/[\w-]+")
        assert PARENT not in link.string  # a text shows the masked name only
        report_path = urlsplit(link.group(0)).path
        page.goto("/")
        _tile(page, "reports_pages.inbox", t["reports"])
        page.wait_for_url("**/reports/")
        listed = page.locator(f"[data-report='{report_path.rsplit('/', 1)[-1]}']")
        assert PARENT in listed.inner_text()
        page.goto(report_path)  # the link in the text message
        assert "6.1" in page.inner_text("[data-version]")
        href = page.get_attribute("[data-action=download-pdf]", "href")
        pdf = page.context.request.get(href)
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
        printed = steps.pdf_text(pdf.body())
        assert "6.1" in printed
        verify_url = re.search(r"https?://\S+/reports/verify/\S+", printed).group(0)
        page.goto(urlsplit(verify_url).path)
        assert page.is_visible("[data-verification]")
        page.set_input_files(
            "main input[name=file]",
            files=[{"name": "report.pdf", "mimeType": "application/pdf", "buffer": pdf.body()}],
        )
        page.click("main form button[type=submit]")
        page.wait_for_selector("[data-match=yes]")
    finally:
        for context in contexts:
            context.close()
