"""The kiosk in a real browser, in Chinese and English: check-in (scanner, phone and code,
identity number), walk-in, reprint, call staff, elder mode with voice, bad input, the idle reset
with a shortened timer, and the offline screen with automatic recovery."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.db import db, utcnow
from queueing.models import Ticket
from scheduling.models import AppointmentState
from tests.browser.journey_steps import daytime_hospital
from tests.support import factories
from tests.support.kiosk_factories import book, create_clinic, create_kiosk, qr_for
from tests.support.queueing_factories import open_queue

pytestmark = pytest.mark.browser

_n = itertools.count(1)
# The start screen once kiosk.js runs it (it sets data-current): the HTML shows the start screen
# before the script has loaded, and under load a click there would be lost.
START = '#kiosk[data-current="start"] [data-screen="start"]:not([hidden])'
TICKET = '[data-screen="ticket"]:not([hidden])'
MESSAGE = '[data-screen="message"]:not([hidden])'
TEXT = {
    "zh": {
        "welcome": "您好",
        "here": "这是您的排队号",
        "already": "您已经签到过",
        "desk": "请到挂号窗口办理",
        "staff": "工作人员正在赶来",
        "not_ours": "这不是本院的预约码",
        "cancelled": "该预约已取消",
        "other_day": "不是今天",
        "wrong_code": "验证码不正确",
        "printing": "正在为您打印凭条",
    },
    "en": {
        "welcome": "Welcome",
        "here": "Here is your number",
        "already": "You had already checked in",
        "desk": "Please go to the registration desk",
        "staff": "A member of staff is on the way",
        "not_ours": "This is not an appointment code of this hospital",
        "cancelled": "This appointment was cancelled",
        "other_day": "not today",
        "wrong_code": "This code is not right",
        "printing": "Your ticket is being printed",
    },
}
RECORDERS = """
window.__printed = 0;
window.print = function () { window.__printed += 1; };
window.__spoken = [];
if (window.speechSynthesis) {
  window.speechSynthesis.speak = function (u) { window.__spoken.push(u.text); };
  window.speechSynthesis.cancel = function () {};
}
"""


@dataclass
class Hall:
    token: str
    qr: str
    patient_name: str
    id_number: str
    phone: str
    department_id: int
    appointment_id: int


@pytest.fixture(autouse=True)
def _daytime(live_server: Any) -> Iterator[None]:
    """Today's clinic must still have bookable slots, whatever the hour CI runs at."""
    with daytime_hospital(live_server):
        yield


def _seed(
    live_server: Any, *, state: AppointmentState = AppointmentState.BOOKED, day_offset: int = 0
) -> Hall:
    n = next(_n)
    with live_server.app.app_context():
        from hospital.organisation.models import Hospital

        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        _device, token = create_kiosk(
            hospital, now=now, name=f"Kiosk {n}", location=f"门诊大厅 {n} 号机"
        )
        clinic = create_clinic(
            hospital,
            now=now,
            day_offset=day_offset,
            sort_order=-1000 - n,
            name_zh=f"内科{n}",
            name_en=f"Medicine {n}",
        )
        open_queue(clinic.point, now=now)
        account = factories.create_account(hospital)
        born = date(1940 + random.randrange(50), 1 + random.randrange(12), 1 + random.randrange(28))
        patient = factories.create_patient(
            hospital,
            account=account,
            name="王小明",
            phone=account.phone,
            birth_date=born,
            id_number=factories.make_resident_id(born, serial=random.randrange(100)),
        )
        appointment = book(clinic, patient, now=now, state=state)
        db.session.commit()
        return Hall(
            token,
            qr_for(live_server.app, appointment),
            patient.name,
            patient.id_number,
            account.phone,
            clinic.department.id,
            appointment.id,
        )


def _tickets(live_server: Any, appointment_id: int) -> int:
    with live_server.app.app_context():
        return (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Ticket)
                .where(Ticket.appointment_id == appointment_id)
            )
            or 0
        )


def _open(page: Any, live_server: Any, hall: Hall, lang: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.context.add_cookies(
        [{"name": "device_token", "value": hall.token, "url": live_server.url}]
    )
    page.add_init_script(RECORDERS)
    page.goto(f"/kiosk?lang={lang}")
    page.wait_for_selector(START)
    assert TEXT[lang]["welcome"] in page.inner_text('[data-screen="start"] h1')
    # At most six choices on a screen (one round trip: the idle timer may already be running).
    choices = page.eval_on_selector_all(
        "[data-screen]", "screens => screens.map(s => s.querySelectorAll('button.choice').length)"
    )
    assert choices and max(choices) <= 6


def _allow_refusals(problems: Any) -> None:
    problems.allow(r"HTTP 4\d\d for .*/api/v1/kiosk/")
    problems.allow(r"Failed to load resource: the server responded with a status of 4\d\d")


def _confirm_phone(page: Any, live_server: Any, phone: str) -> None:
    """Identify by phone: send the code, read it from the SMS log, type it in."""
    page.click("[data-action=by-phone]")
    page.fill("#k-phone", phone)
    page.click("[data-action=send-code]")
    page.wait_for_selector('[data-screen="code"]:not([hidden])')
    page.fill("#k-code", live_server.sign_in_code(phone))
    page.click("[data-action=verify-code]")


@contextmanager
def _kiosk_config(live_server: Any, **keys: int) -> Iterator[None]:
    saved = {k: live_server.app.config.get(k) for k in keys}
    live_server.app.config.update(keys)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                live_server.app.config.pop(key, None)
            else:
                live_server.app.config[key] = value


@pytest.fixture
def short_timers(live_server: Any) -> Iterator[None]:
    # An English start screen is already "dirty" (not the default language): its idle timer runs
    # from the page load, through _open, until the first touch. Four seconds leave room for that
    # on a loaded machine; the warning's three-second countdown is what the tests watch.
    with _kiosk_config(
        live_server, KIOSK_IDLE_SECONDS=4, KIOSK_IDLE_WARNING_SECONDS=3, KIOSK_RETRY_SECONDS=1
    ):
        yield


@pytest.fixture
def short_retry(live_server: Any) -> Iterator[None]:
    """Only the offline screen's retry is shortened: an idle reset must not cut into the test."""
    with _kiosk_config(live_server, KIOSK_RETRY_SECONDS=1):
        yield


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_check_in_with_a_usb_scanner_prints_one_ticket(
    page: Any, live_server: Any, lang: str
) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-qr]")
    page.click("#k-scan")
    page.keyboard.type(hall.qr)  # a USB scanner types the code, then Enter
    page.keyboard.press("Enter")
    page.wait_for_selector(TICKET)

    assert TEXT[lang]["here"] in page.inner_text('[data-screen="ticket"] h1')
    number = page.inner_text("[data-slip-number]")
    assert number.startswith("A")
    assert page.inner_text("[data-slip-name]") == "王*明"
    assert hall.patient_name not in page.inner_text("#kiosk")
    assert page.query_selector(".slip-qr svg") is not None
    page.wait_for_function("() => window.__printed === 1")  # no network printer: the browser prints
    assert TEXT[lang]["printing"] in page.inner_text("[data-print-status]")

    # Scanning again: the same ticket, and the screen says so.
    page.click(f"{TICKET} [data-action=done]")
    page.wait_for_selector(START)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-qr]")
    page.fill("#k-scan", hall.qr)
    page.press("#k-scan", "Enter")
    page.wait_for_selector(TICKET)
    assert page.inner_text("[data-slip-number]") == number
    # "Done" cleared the screen and went back to the hospital's default language.
    assert TEXT["zh"]["already"] in page.inner_text("[data-print-status]")
    assert _tickets(live_server, hall.appointment_id) == 1


CAMERA = """
window.__qr = "";
window.BarcodeDetector = function (options) { window.__formats = options.formats; };
window.BarcodeDetector.prototype.detect = function () {
  return Promise.resolve(window.__qr ? [{ rawValue: window.__qr }] : []);
};
navigator.mediaDevices.getUserMedia = function () {
  var canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 64;
  canvas.getContext("2d").fillRect(0, 0, 64, 64);
  window.__stream = canvas.captureStream(5);
  return Promise.resolve(window.__stream);
};
"""


def test_check_in_with_the_camera_where_the_browser_reads_qr_codes(
    page: Any, live_server: Any
) -> None:
    hall = _seed(live_server)
    page.add_init_script(CAMERA)  # a browser with BarcodeDetector and a camera, played here
    _open(page, live_server, hall, "zh")
    page.click("[data-action=check-in]")
    page.click("[data-action=by-qr]")
    assert page.is_visible("[data-action=camera]")
    page.click("[data-action=camera]")
    page.wait_for_selector("#k-camera:not([hidden])")
    assert page.evaluate("window.__formats") == ["qr_code"]
    assert _tickets(live_server, hall.appointment_id) == 0
    page.evaluate(f"window.__qr = {hall.qr!r}")  # the patient holds the code up to the camera
    page.wait_for_selector(TICKET)
    assert page.inner_text("[data-slip-name]") == "王*明"
    # The camera is switched off once the code is read.
    assert page.is_hidden("#k-camera")
    assert page.evaluate("window.__stream.getTracks().every(t => t.readyState === 'ended')")
    assert _tickets(live_server, hall.appointment_id) == 1


def test_without_barcode_detector_the_camera_button_is_not_offered(
    page: Any, live_server: Any
) -> None:
    hall = _seed(live_server)
    page.add_init_script("delete window.BarcodeDetector;")
    _open(page, live_server, hall, "en")
    page.click("[data-action=check-in]")
    page.click("[data-action=by-qr]")
    assert page.is_hidden("[data-action=camera]")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_check_in_with_phone_and_texted_code(
    page: Any, live_server: Any, browser_problems: Any, lang: str
) -> None:
    _allow_refusals(browser_problems)
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-phone]")
    page.fill("#k-phone", hall.phone)
    page.click("[data-action=send-code]")
    page.wait_for_selector('[data-screen="code"]:not([hidden])')
    assert hall.phone[:3] + "****" + hall.phone[-4:] in page.inner_text("[data-code-sent]")
    code = live_server.sign_in_code(hall.phone)

    page.fill("#k-code", "000000" if code != "000000" else "111111")
    page.click("[data-action=verify-code]")
    page.wait_for_selector(MESSAGE)
    assert TEXT[lang]["wrong_code"] in page.inner_text("[data-message]")
    assert _tickets(live_server, hall.appointment_id) == 0

    page.click("[data-action=retry]")
    page.fill("#k-code", code)
    page.click("[data-action=verify-code]")
    page.wait_for_selector(TICKET)
    assert page.inner_text("[data-slip-name]") == "王*明"
    assert _tickets(live_server, hall.appointment_id) == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_check_in_with_identity_number_and_reprint(page: Any, live_server: Any, lang: str) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-id]")
    page.fill("#k-id", hall.id_number)
    page.press("#k-id", "Enter")
    page.wait_for_selector(TICKET)
    number = page.inner_text("[data-slip-number]")

    page.click(f"{TICKET} [data-action=done]")
    page.wait_for_selector(START)
    page.click("[data-action=reprint]")
    assert page.is_hidden("[data-action=by-qr]")
    page.click("[data-action=by-id]")
    page.fill("#k-id", hall.id_number)
    page.press("#k-id", "Enter")
    page.wait_for_selector(TICKET)
    assert page.inner_text("[data-slip-number]") == number
    assert _tickets(live_server, hall.appointment_id) == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_walk_in_gets_a_ticket_without_identifying(
    page: Any, live_server: Any, lang: str
) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=walk-in]")
    page.wait_for_selector('[data-screen="departments"]:not([hidden])')
    page.click(f'[data-department="{hall.department_id}"]')
    page.click("[data-action=anonymous]")
    page.wait_for_selector(TICKET)
    assert page.inner_text("[data-slip-number]")
    assert page.query_selector("[data-slip-name]") is None
    assert page.query_selector("[data-slip-ahead]") is not None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_call_staff_and_elder_mode_with_voice(page: Any, live_server: Any, lang: str) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=elder]")
    assert "elder" in (page.get_attribute("body", "class") or "")
    assert page.get_attribute("[data-action=elder]", "aria-pressed") == "true"
    page.click("[data-action=call-staff]")
    page.wait_for_selector('[data-screen="help"]:not([hidden])')
    assert TEXT[lang]["staff"] in page.inner_text('[data-screen="help"] h1')
    spoken = page.evaluate("window.__spoken")
    assert any(TEXT[lang]["staff"] in s for s in spoken)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_codes_and_appointments_are_refused_in_plain_words(
    page: Any, live_server: Any, browser_problems: Any, lang: str
) -> None:
    _allow_refusals(browser_problems)
    hall = _seed(live_server)
    cancelled = _seed(live_server, state=AppointmentState.CANCELLED)
    _open(page, live_server, hall, lang)
    for code, words in (
        ("https://example.com/not-ours", TEXT[lang]["not_ours"]),
        (cancelled.qr, TEXT[lang]["cancelled"]),
    ):
        if page.is_visible(MESSAGE):
            page.click(f"{MESSAGE} [data-action=home]")
        page.wait_for_selector(START)
        page.click("[data-action=check-in]")
        page.click("[data-action=by-qr]")
        page.fill("#k-scan", code)
        page.press("#k-scan", "Enter")
        page.wait_for_selector(MESSAGE)
        assert words in page.inner_text("[data-message]")
    assert _tickets(live_server, cancelled.appointment_id) == 0


def test_another_days_appointment_is_refused(
    page: Any, live_server: Any, browser_problems: Any
) -> None:
    _allow_refusals(browser_problems)
    later = _seed(live_server, day_offset=3)
    _open(page, live_server, later, "en")
    page.click("[data-action=check-in]")
    page.click("[data-action=by-qr]")
    page.fill("#k-scan", later.qr)
    page.press("#k-scan", "Enter")
    page.wait_for_selector(MESSAGE)
    assert TEXT["en"]["other_day"] in page.inner_text("[data-message]")
    assert _tickets(live_server, later.appointment_id) == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_idle_warning_counts_down_then_everything_personal_is_gone(
    page: Any, live_server: Any, short_timers: None, lang: str
) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=check-in]")
    page.click("[data-action=by-id]")
    page.fill("#k-id", hall.id_number)
    page.evaluate("sessionStorage.setItem('probe', '1'); localStorage.setItem('probe', '1')")

    # The warning, and "continue" keeps what was typed (WCAG 2.2.1).
    page.wait_for_selector("[data-idle-warning]:not([hidden])")
    assert page.inner_text("[data-idle-countdown]") in ("1", "2", "3")
    sizes = page.evaluate(
        """() => ['#k-idle-title', '#k-idle-text'].map(
             (s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize))"""
    )
    assert sizes[0] > sizes[1], f"the warning's title is not larger than its text: {sizes}"
    page.click("[data-action=continue]")
    assert page.is_hidden("[data-idle-warning]")
    assert page.input_value("#k-id") == hall.id_number

    # Untouched again: warning, countdown, then back to the start with nothing left.
    with page.expect_navigation(timeout=15_000):
        page.wait_for_selector("[data-idle-warning]:not([hidden])")
    page.wait_for_selector(START)
    assert page.input_value("#k-id") == ""
    assert hall.id_number not in page.content()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert (
        page.get_attribute("html", "lang") == "zh-Hans"
    )  # back to the hospital's default language


def test_idle_reset_clears_a_shown_ticket(page: Any, live_server: Any, short_timers: None) -> None:
    hall = _seed(live_server)
    _open(page, live_server, hall, "en")
    page.click("[data-action=check-in]")
    page.click("[data-action=by-id]")
    page.fill("#k-id", hall.id_number)
    page.press("#k-id", "Enter")
    page.wait_for_selector(TICKET)
    with page.expect_navigation(timeout=15_000):
        page.wait_for_selector("[data-idle-warning]:not([hidden])")
    page.wait_for_selector(START)
    assert page.query_selector("[data-slip-number]") is None
    assert "王*明" not in page.content()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_server_unreachable_shows_the_desk_screen_and_recovers(
    page: Any, live_server: Any, browser_problems: Any, short_retry: None, lang: str
) -> None:
    browser_problems.allow(r"request failed: .*/api/v1/kiosk/")
    browser_problems.allow(r"Failed to load resource")
    hall = _seed(live_server)
    _open(page, live_server, hall, lang)
    page.route("**/api/v1/kiosk/**", lambda route: route.abort("connectionrefused"))
    page.click("[data-action=check-in]")
    page.click("[data-action=by-id]")
    page.fill("#k-id", hall.id_number)
    page.press("#k-id", "Enter")
    page.wait_for_selector('[data-screen="offline"]:not([hidden])')
    assert TEXT[lang]["desk"] in page.inner_text('[data-screen="offline"] h1')
    assert page.input_value("#k-id") == ""  # what was typed is gone

    with page.expect_navigation(timeout=15_000):
        page.unroute("**/api/v1/kiosk/**")
    page.wait_for_selector(START)
    assert page.is_hidden('[data-screen="offline"]')


def _patient_with_phone(hospital: Any, name: str, born: date) -> tuple[Any, Any]:
    """A patient whose own account signs in with the patient's phone."""
    account = factories.create_account(hospital)
    patient = factories.create_patient(
        hospital,
        account=account,
        name=name,
        phone=account.phone,
        birth_date=born,
        id_number=factories.make_resident_id(born, serial=random.randrange(100)),
    )
    return patient, account


def _seed_paid_department(live_server: Any) -> tuple[Hall, int]:
    """A department with fee-bearing slots today and no walk-in queue; a patient with an account."""
    n = next(_n)
    with live_server.app.app_context():
        from hospital.organisation.models import Hospital

        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        _device, token = create_kiosk(hospital, now=now, name=f"Kiosk {n}")
        clinic = create_clinic(
            hospital, now=now, sort_order=-5000 - n, name_zh=f"外科{n}", name_en=f"Surgery {n}"
        )
        clinic.session.fee_fen = 2500
        patient, account = _patient_with_phone(hospital, "赵六", date(1960, 1 + n % 12, 1 + n % 28))
        db.session.commit()
        hall = Hall(
            token, "", patient.name, patient.id_number, account.phone, clinic.department.id, 0
        )
        return hall, patient.id


def _pay_from_the_phone(live_server: Any, patient_id: int) -> None:
    from hospital.billing.models import Order, Payment
    from hospital.billing.services import settlement
    from tests.support.billing_factories import sandbox_notification

    with live_server.app.app_context():
        order = db.session.scalars(sa.select(Order).where(Order.patient_id == patient_id)).one()
        payment = db.session.scalars(sa.select(Payment).where(Payment.order_id == order.id)).one()
        body, headers = sandbox_notification(payment, now=utcnow())
        # no_autoflush only because reports/stats.py (on_appointment_booked) currently lets a
        # half-built summary row autoflush with a NULL service_date (reported to its owner).
        with db.session.no_autoflush:
            assert settlement.handle_notification("sandbox", headers, body, now=utcnow()).accepted
        db.session.commit()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_walk_in_books_todays_next_slot_and_pays_by_phone(
    page: Any, live_server: Any, lang: str
) -> None:
    hall, patient_id = _seed_paid_department(live_server)
    _open(page, live_server, hall, lang)
    page.click("[data-action=walk-in]")
    page.click(f'[data-department="{hall.department_id}"]')
    assert page.is_hidden("[data-action=anonymous]")  # a slot needs a confirmed phone
    _confirm_phone(page, live_server, hall.phone)
    page.wait_for_selector('[data-screen="pay"]:not([hidden])')
    assert "25.00" in page.inner_text("[data-pay-summary]")
    assert "/billing/sandbox/checkout/" in (
        page.get_attribute("[data-pay-qr]", "data-pay-url") or ""
    )
    assert page.query_selector("[data-pay-qr] svg") is not None

    _pay_from_the_phone(live_server, patient_id)
    page.wait_for_selector(TICKET, timeout=15_000)
    assert page.inner_text("[data-slip-name]") == "赵*"


def _seed_walk_in_queue(live_server: Any) -> Hall:
    """A department that only takes walk-ins (an open queue, no slots); a patient with an account."""
    n = next(_n)
    with live_server.app.app_context():
        from hospital.organisation.models import Hospital

        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        _device, token = create_kiosk(hospital, now=now, name=f"Kiosk {n}")
        department = factories.create_department(
            hospital, sort_order=-8000 - n, name_zh=f"急诊内科{n}", name_en=f"Urgent care {n}"
        )
        point = factories.create_service_point(hospital, department_id=department.id)
        open_queue(point, now=now)
        patient, account = _patient_with_phone(
            hospital, "王小明", date(1975, 1 + n % 12, 1 + n % 28)
        )
        db.session.commit()
        return Hall(token, "", patient.name, patient.id_number, account.phone, department.id, 0)


@pytest.fixture
def walk_in_fee(live_server: Any) -> Iterator[str]:
    """A walk-in fee of 8.00 yuan under a fee class of this test only (the hospital is shared)."""
    from hospital.billing.models import RegistrationFee

    fee_class = f"walk-in-{next(_n)}"
    with live_server.app.app_context():
        db.session.add(
            RegistrationFee(
                hospital_id=live_server.hospital_id,
                fee_class=fee_class,
                name_zh="普通门诊挂号费",
                name_en="Outpatient registration fee",
                amount_fen=800,
            )
        )
        db.session.commit()
    saved = live_server.app.config.get("KIOSK_WALK_IN_FEE_CLASS")
    live_server.app.config["KIOSK_WALK_IN_FEE_CLASS"] = fee_class
    yield fee_class
    live_server.app.config["KIOSK_WALK_IN_FEE_CLASS"] = saved


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_walk_in_pays_the_queue_fee_for_a_parent_then_gets_the_ticket(
    page: Any, live_server: Any, walk_in_fee: str, lang: str
) -> None:
    from hospital.accounts.models import Account
    from hospital.patients.models import Relationship

    hall = _seed_walk_in_queue(live_server)
    with live_server.app.app_context():
        from hospital.organisation.models import Hospital

        hospital = db.session.get(Hospital, live_server.hospital_id)
        account = db.session.scalars(sa.select(Account).where(Account.phone == hall.phone)).one()
        born = date(1948, 5, 1 + next(_n) % 28)
        mother = factories.create_patient(
            hospital,
            account=account,
            relationship=Relationship.PARENT,
            name="李秀英",
            phone=None,
            birth_date=born,
            id_number=factories.make_resident_id(born, serial=random.randrange(100)),
        )
        mother_id = mother.id
        db.session.commit()
    _open(page, live_server, hall, lang)
    page.click("[data-action=walk-in]")
    button = f'[data-department="{hall.department_id}"]'
    page.wait_for_selector(button)
    assert "8.00" in page.inner_text(button)
    page.click(button)
    # A fee is due: paying needs a phone confirmed by a texted code.
    assert page.is_hidden("[data-action=anonymous]")
    assert page.is_hidden("[data-action=by-id]")
    _confirm_phone(page, live_server, hall.phone)

    page.wait_for_selector('[data-screen="who"]:not([hidden])')
    people = page.inner_text('[data-list="people"]')
    assert "王*明" in people and "李*英" in people
    assert "王小明" not in people and "李秀英" not in people
    page.click(f'[data-patient="{mother_id}"]')
    page.wait_for_selector('[data-screen="pay"]:not([hidden])')
    assert "8.00" in page.inner_text("[data-pay-summary]")
    assert page.query_selector("[data-pay-qr] svg") is not None

    _pay_from_the_phone(live_server, mother_id)
    page.wait_for_selector(TICKET, timeout=15_000)
    assert page.inner_text("[data-slip-name]") == "李*英"


def test_leaving_the_payment_screen_voids_the_walk_in_fee(
    page: Any, live_server: Any, walk_in_fee: str
) -> None:
    from hospital.billing.models import Order, OrderStatus

    hall = _seed_walk_in_queue(live_server)
    _open(page, live_server, hall, "zh")
    page.click("[data-action=walk-in]")
    page.click(f'[data-department="{hall.department_id}"]')
    _confirm_phone(page, live_server, hall.phone)
    page.wait_for_selector('[data-screen="pay"]:not([hidden])')
    page.click('[data-screen="pay"] [data-action=leave-payment]')
    page.wait_for_selector(START)
    assert page.inner_text("[data-pay-summary]") == ""
    with live_server.app.app_context():
        reference = db.session.scalars(
            sa.select(Order.status)
            .where(Order.reference.like("walk-in:%"))
            .order_by(Order.id.desc())
        ).first()
    assert reference is OrderStatus.CANCELLED


def _seed_released_report(live_server: Any, hall: Hall) -> str:
    from hospital.accounts.models import Role
    from hospital.organisation.models import Hospital
    from hospital.patients.models import Patient
    from reports.models import ReportSource
    from reports.results import IncomingReport, ResultItem
    from reports.services import intake, release

    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        patient = db.session.scalars(
            sa.select(Patient).where(Patient.id_number == hall.id_number)
        ).one()
        lab = factories.create_account(hospital, roles=(Role.LAB,))
        (report,) = intake.receive_results(
            hospital,
            [
                IncomingReport(
                    medical_record_number=patient.medical_record_number,
                    test_code="GLU",
                    test_name="空腹血糖",
                    signed_by="李检验",
                    items=[
                        ResultItem(
                            name="葡萄糖", value="7.9", unit="mmol/L", reference_range="3.9-6.1"
                        )
                    ],
                )
            ],
            source=ReportSource.STAFF,
            now=utcnow(),
            actor=lab,
        )
        release.release(report, now=utcnow())
        db.session.commit()
        return report.public_id


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_released_report_prints_after_a_texted_code(
    page: Any, live_server: Any, lang: str
) -> None:
    hall = _seed(live_server)
    public_id = _seed_released_report(live_server, hall)
    _open(page, live_server, hall, lang)
    page.click("[data-action=report]")
    assert page.is_hidden("[data-action=by-id]")  # a report needs the texted code
    _confirm_phone(page, live_server, hall.phone)
    page.wait_for_selector('[data-screen="reports"]:not([hidden])')
    assert "王*明" in page.inner_text('[data-list="reports"]')
    with page.expect_response(f"**/api/v1/kiosk/reports/{public_id}/pdf") as answer:
        page.click(f'[data-report="{public_id}"]')
    assert answer.value.status == 200
    assert answer.value.headers["content-type"] == "application/pdf"
    page.wait_for_function(
        "() => Number(document.getElementById('kiosk').dataset.reportBytes) > 1000"
    )
    assert page.inner_text("[data-report-status]")
    # The report's frame prints once Chromium's PDF viewer has loaded it (RECORDERS runs in that
    # frame too). Waiting for it keeps the viewer's start-up in the test, not racing the teardown.
    page.wait_for_function(
        # A function, not an expression: polling an expression evals it, which the CSP refuses.
        "() => document.querySelector('[data-report-frame]').contentWindow.__printed === 1"
    )


def _seed_released_reports(live_server: Any, hall: Hall, count: int) -> list[str]:
    return [_seed_released_report(live_server, hall) for _ in range(count)]


@pytest.mark.parametrize("elder", [False, True])
def test_every_released_report_is_reachable_page_by_page(
    page: Any, live_server: Any, elder: bool
) -> None:
    """Seven reports: five on the first page, two on the next; large buttons page between them."""
    from tests.browser.a11y import axe_violations, describe_violations

    hall = _seed(live_server)
    public_ids = _seed_released_reports(live_server, hall, 7)
    _open(page, live_server, hall, "zh")
    if elder:
        page.click("[data-action=elder]")
    page.click("[data-action=report]")
    _confirm_phone(page, live_server, hall.phone)
    page.wait_for_selector('[data-screen="reports"]:not([hidden])')
    pager = '[data-pager="reports"]'
    assert page.is_visible(pager)
    assert page.get_attribute('[data-list="reports"]', "data-total") == "7"
    first = page.eval_on_selector_all("[data-report]", "bs => bs.map(b => b.dataset.report)")
    assert len(first) == 5
    assert page.inner_text(f"{pager} [data-page-status]") == "第 1 页，共 2 页"
    assert page.is_disabled(f'{pager} [data-page="prev"]')
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)

    page.click(f'{pager} [data-page="next"]')
    page.wait_for_function(
        "() => document.querySelector('[data-pager=\"reports\"] [data-page-status]').textContent.startsWith('第 2 页')"
    )
    second = page.eval_on_selector_all("[data-report]", "bs => bs.map(b => b.dataset.report)")
    assert len(second) == 2
    assert page.is_disabled(f'{pager} [data-page="next"]')
    assert sorted(first + second) == sorted(public_ids)

    page.click(f'{pager} [data-page="prev"]')
    page.wait_for_selector(f'[data-report="{first[0]}"]')
    with page.expect_response(f"**/api/v1/kiosk/reports/{second[0]}/pdf") as answer:
        page.click(f'{pager} [data-page="next"]')
        page.click(f'[data-report="{second[0]}"]')
    assert answer.value.status == 200


@pytest.mark.parametrize("elder", [False, True])
def test_the_a_to_z_keys_show_the_departments_of_one_pinyin_initial(
    page: Any, live_server: Any, elder: bool
) -> None:
    from tests.browser.a11y import axe_violations, describe_violations

    hall = _seed(live_server)
    with live_server.app.app_context():
        from hospital.organisation.models import Hospital

        hospital = db.session.get(Hospital, live_server.hospital_id)
        eyes = create_clinic(
            hospital, now=utcnow(), name_zh="眼科", name_en="Eyes", pinyin_initials="yk"
        )
        open_queue(eyes.point, now=utcnow())
        db.session.commit()
        eyes_id = eyes.department.id
    _open(page, live_server, hall, "zh")
    if elder:
        page.click("[data-action=elder]")
    page.click("[data-action=walk-in]")
    page.wait_for_selector('[data-screen="departments"]:not([hidden])')
    keys = page.eval_on_selector_all(
        "[data-letter-bar] .letter-key", "ks => ks.map(k => k.dataset.letter)"
    )
    assert keys[0] == "" and "N" in keys and "Y" in keys
    assert keys[1:] == sorted(keys[1:], key=lambda k: (k == "#", k))
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)

    page.click('[data-letter-bar] [data-letter="Y"]')
    assert page.get_attribute('[data-letter-bar] [data-letter="Y"]', "aria-pressed") == "true"
    shown = page.eval_on_selector_all(
        '[data-list="departments"] [data-department]', "bs => bs.map(b => b.dataset.department)"
    )
    assert str(eyes_id) in shown and str(hall.department_id) not in shown
    assert all(
        name.startswith("眼")
        for name in page.eval_on_selector_all(
            '[data-list="departments"] .department-name', "ns => ns.map(n => n.textContent)"
        )
    )
    page.click('[data-letter-bar] [data-letter=""]')
    page.wait_for_selector(f'[data-department="{hall.department_id}"]')
    page.click(f'[data-department="{eyes_id}"]')
    page.wait_for_selector('[data-screen="identify"]:not([hidden])')
