"""Issue 14's journey: one visit with a blood test and a medicine, from booking to the report.

The patient books and pays on the phone, checks in by scanning the poster at the department's
entrance, is seen, pays the doctor's orders on the phone and gets the lab-draw and pharmacy numbers
there, shows the one visit code at each station, and reads the report. The test prints what the
issue names: codes shown to the patient, stations scanned, physical queues stood in, taps per step.
Staff set-up (clinic, rooms, counters, accounts, fees) is seeded; what people do goes through pages.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from hospital.db import db, utcnow
from tests.browser import journey_steps as steps
from tests.browser.a11y import close_bodies_on_dropped_connections

pytestmark = pytest.mark.browser

_n = itertools.count(1)
LAB_FEE, MEDICINE_FEE = "25.00", "56.00"
TEST_CODE = "CBC-J"
TEXT = {
    "zh": {"lab": "血常规", "medicine": "阿莫西林胶囊"},
    "en": {"lab": "Complete blood count", "medicine": "Amoxicillin capsules"},
}
# Every QR on a page, as the path data drawing its dark modules (hospital/qr.py).
_QR_PATHS = "() => [...document.querySelectorAll('svg path')].map((p) => p.getAttribute('d'))"


def qr_fingerprint(path: str) -> frozenset[tuple[int, int]]:
    """The QR's dark modules, moved to the top-left corner: equal for equal payloads.

    The quiet zone (border) and the drawn size differ between pages; the modules do not.
    """
    cells = set()
    for start, row, run in re.findall(r"M(\d+) (\d+)\.5h(\d+)", path):
        cells.update((int(row), int(start) + i) for i in range(int(run)))
    if not cells:
        return frozenset()
    top, left = min(r for r, _ in cells), min(c for _, c in cells)
    return frozenset((r - top, c - left) for r, c in cells)


@dataclass
class Tally:
    """What the patient did and saw, step by step."""

    step: str = ""
    taps: Counter[str] = field(default_factory=Counter)
    codes: set[frozenset[tuple[int, int]]] = field(default_factory=set)
    stations_scanned: list[str] = field(default_factory=list)
    physical_queues: int = 0  # lines stood in at a window: the registration desk, the cashier
    seen_on: dict[frozenset[tuple[int, int]], set[str]] = field(default_factory=dict)

    def begin(self, step: str) -> None:
        self.step = step
        self.taps[step] = 0

    def tap(self, tab: Any, selector: str) -> None:
        self.taps[self.step] += 1
        tab.click(selector)

    def look(self, tab: Any) -> None:
        """Note every QR code the patient's phone shows on this page."""
        for path in tab.evaluate(_QR_PATHS):
            cells = qr_fingerprint(path or "")
            if len(cells) > 100:  # a QR code, not an icon
                self.codes.add(cells)
                self.seen_on.setdefault(cells, set()).add(urlsplit(tab.url).path.split("/")[1])


@dataclass
class Clinic:
    n: int
    department_zh: str
    department_en: str
    session_id: int
    room: str
    poster_link: str
    counter_id: int
    lab_counter_id: int
    pharmacy_counter_id: int
    lab_item_id: int
    medicine_item_id: int
    doctor: str
    nurse: str
    lab: str
    phone: str


def _station(hospital: Any, kind: Any, code: str, name_zh: str, name_en: str, now: Any) -> Any:
    """Our station of that kind, first by its code, so paid orders send patients to it.

    Named like other tests' stations ("采血室", "Blood draw room"): the live server is shared.
    """
    from queueing.services.stations import station_point
    from tests.support import factories
    from tests.support.queueing_factories import open_queue

    point = station_point(hospital.id, kind)
    if point is None or not point.code.startswith("0J"):
        point = factories.create_service_point(
            hospital, kind=kind, code=code, name_zh=name_zh, name_en=name_en, floor="1", room=code
        )
    open_queue(point, now=now)
    return point


def _seed(live_server: Any, lang: str) -> Clinic:
    from hospital.accounts.models import Language, Role
    from hospital.billing.models import ItemCategory
    from hospital.organisation.models import Hospital, ServicePointKind
    from queueing.services import arrivals
    from reports.release import ReleaseRule
    from reports.services import test_types
    from tests.support import factories
    from tests.support.billing_factories import create_fee_item
    from tests.support.queueing_factories import create_counter, open_queue

    n = next(_n)
    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        local = now.astimezone(ZoneInfo(hospital.timezone))
        department = factories.create_department(
            hospital,
            name_zh=f"呼吸内科{n}",
            name_en=f"Respiratory {n}",
            pinyin_initials="hxnk",
            sort_order=-30000 - n,
        )
        clinician = factories.create_clinician(
            department, name_zh=f"王主任{n}", name_en=f"Dr Wang {n}"
        )
        point = factories.create_service_point(
            hospital,
            department_id=department.id,
            room=f"7{n:02d}",
            floor="7",
            name_zh=f"呼吸科{n}诊室",
            name_en=f"Respiratory room {n}",
            directions_zh="出电梯右转",
            directions_en="Turn right out of the lift",
        )
        session = steps.expert_session_starting_now(
            hospital, clinician, point, local=local, now=now, capacity=4
        )
        lab_item = create_fee_item(
            hospital,
            price_fen=2500,
            category=ItemCategory.LAB_TEST,
            name_zh=TEXT["zh"]["lab"],
            name_en=TEXT["en"]["lab"],
        )
        medicine = create_fee_item(
            hospital,
            price_fen=5600,
            category=ItemCategory.MEDICINE,
            name_zh=TEXT["zh"]["medicine"],
            name_en=TEXT["en"]["medicine"],
        )
        open_queue(point, now=now)
        counter = create_counter(point)
        lab_point = _station(
            hospital, ServicePointKind.LAB_DRAW, "0JLAB", "门诊采血室", "Blood draw room", now
        )
        pharmacy = _station(
            hospital, ServicePointKind.PHARMACY, "0JPHA", "门诊西药房", "Pharmacy", now
        )
        lab_counter = create_counter(lab_point, code=f"J{n}")
        pharmacy_counter = create_counter(pharmacy, code=f"J{n}")
        doctor = factories.create_account(
            hospital, roles=(Role.CLINICIAN,), password=steps.PASSWORD
        )
        nurse = factories.create_account(hospital, roles=(Role.NURSE,), password=steps.PASSWORD)
        lab = factories.create_account(hospital, roles=(Role.LAB,), password=steps.PASSWORD)
        test_types.save_test_type(
            hospital.id,
            TEST_CODE,
            name_zh="血常规",
            name_en="Complete blood count",
            release_rule=ReleaseRule.IMMEDIATE,
            release_delay_minutes=0,
            actor=lab,
        )
        phone = f"1396000{n:04d}"  # a range of its own: the live server is shared
        account = factories.create_account(
            hospital, phone=phone, language=Language.ZH if lang == "zh" else Language.EN
        )
        factories.create_patient(
            hospital, account=account, phone=phone, birth_date=date(1975, 4, 2)
        )
        poster = arrivals.poster_link(arrivals.poster_code_of(point))
        db.session.commit()
        return Clinic(
            n=n,
            department_zh=department.name_zh,
            department_en=department.name_en,
            session_id=session.id,
            room=point.room,
            poster_link=poster,
            counter_id=counter.id,
            lab_counter_id=lab_counter.id,
            pharmacy_counter_id=pharmacy_counter.id,
            lab_item_id=lab_item.id,
            medicine_item_id=medicine.id,
            doctor=doctor.username,
            nurse=nurse.username,
            lab=lab.username,
            phone=phone,
        )


@pytest.fixture
def clinic(live_server: Any, request: Any) -> Any:
    # Five tabs open and close here: a static file cut short must not warn (see a11y.py).
    if not getattr(live_server.app.wsgi_app, "closes_bodies", False):
        live_server.app.wsgi_app = close_bodies_on_dropped_connections(live_server.app.wsgi_app)
    with steps.daytime_hospital(live_server), steps.payments_reach_this_server(live_server):
        yield lambda lang: _seed(live_server, lang)


def _next_kind(tab: Any) -> str:
    return tab.get_attribute("#v-next", "data-kind")


def _wait_next(tab: Any, kind: str) -> None:
    tab.wait_for_function(
        f"() => document.getElementById('v-next').dataset.kind === '{kind}'", timeout=15_000
    )


def _staff_scans(tab: Any, tally: Tally, counter_id: int, code: str, station: str) -> str:
    """A member of staff scans the patient's visit code at a counter: the number it finds."""
    tab.goto(f"/queueing/console/{counter_id}")
    tab.fill("#q-find-code", code)  # a USB scanner types what the QR says, then Enter
    tab.press("#q-find-code", "Enter")
    tab.wait_for_selector("#q-found")
    tally.stations_scanned.append(station)
    return tab.get_attribute("#q-found", "data-ticket")


def _serve(tab: Any, counter_id: int, number: str) -> None:
    """The counter calls its line in order until the patient's number (others may be ahead)."""
    tab.goto(f"/queueing/console/{counter_id}")
    for _ in range(10):
        tab.click("#q-call-next")
        tab.wait_for_function(
            "() => !['', '—'].includes(document.getElementById('q-current').textContent.trim())"
        )
        if number in tab.inner_text("#q-current"):
            return
        tab.click("[data-action=complete]")  # someone else's number: served first
        tab.wait_for_function("() => document.getElementById('q-current').textContent === '—'")
    raise AssertionError(f"{number} was never called at counter {counter_id}")


def _window_tickets(live_server: Any, phone: str) -> int:
    """Numbers the patient took at a window (registration desk, cashier) or from a kiosk."""
    import sqlalchemy as sa

    from hospital.organisation.models import ServicePoint, ServicePointKind
    from hospital.patients.models import Patient
    from queueing.models import ServiceQueue, Ticket, TicketKind

    with live_server.app.app_context():
        windows = (ServicePointKind.REGISTRATION_DESK, ServicePointKind.CASHIER)
        tickets = db.session.execute(
            sa.select(Ticket.kind, ServicePoint.kind)
            .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
            .join(ServicePoint, ServicePoint.id == ServiceQueue.service_point_id)
            .join(Patient, Patient.id == Ticket.patient_id)
            .where(Patient.phone == phone)
        ).all()
        db.session.remove()
    assert tickets, "the visit gave the patient numbers"
    return sum(1 for kind, point in tickets if point in windows or kind is TicketKind.WALK_IN)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_one_visit_with_a_blood_test_and_a_medicine_needs_one_code_and_no_queue(
    browser: Any, live_server: Any, browser_problems: Any, clinic: Any, lang: str
) -> None:
    c = clinic(lang)
    t = TEXT[lang]
    tally = Tally()
    contexts: list[Any] = []
    try:
        phone_context, tab = steps.watched(browser, live_server, browser_problems, lang=lang)
        contexts.append(phone_context)
        phone_context.set_default_timeout(20_000)  # a loaded machine: pages can be slow

        # 1. Sign in with a texted code.
        tally.begin("sign in")
        tab.goto(f"/?lang={lang}")
        tally.tap(tab, "[data-action=sign-in]")
        tab.fill("#f-phone", c.phone)
        tally.tap(tab, "[data-action=send-code]")
        tab.wait_for_selector("[data-code-sent]")
        tab.fill("#f-code", live_server.sign_in_code(c.phone))
        tally.tap(tab, "[data-action=verify-code]")
        tab.wait_for_url(lambda url: "/privacy?next=" in url or url == f"{live_server.url}/")
        if "/privacy" in tab.url:
            tally.tap(tab, "[data-action=accept-privacy]")
            tab.wait_for_url(f"{live_server.url}/")

        # 2. Book today's clinic and pay the fee on the phone: the visit starts with its code.
        tally.begin("book and pay")
        tally.tap(tab, "main .tiles [data-action='tile-scheduling_pages.book']")
        tab.wait_for_url("**/book")
        department = c.department_zh if lang == "zh" else c.department_en
        tab.fill("#f-q", department)
        tab.press("#f-q", "Enter")
        tally.tap(tab, f"[data-departments] a:has-text('{department}')")
        tally.tap(tab, f"[data-session='{c.session_id}'] a.button")
        tab.locator("input[name=slot_id]:not([disabled])").first.check()
        tally.taps[tally.step] += 1
        tally.tap(tab, "[data-action=hold]")
        tab.wait_for_url("**/confirm")
        tally.tap(tab, "[data-action=confirm]")
        tab.wait_for_url("**/billing/orders/*/pay")
        tally.tap(tab, "[data-action=pay]")
        tab.wait_for_url("**/billing/sandbox/checkout/*")
        tally.tap(tab, "[data-outcome=success]")
        tab.wait_for_url("**/billing/orders/*/result")
        steps.deliver_sandbox_notifications(live_server)
        tab.reload()
        assert tab.is_visible("[data-result=paid]")
        tally.look(tab)
        tab.goto("/")
        visit = tab.locator("[data-section=todays-visits] [data-visit]")
        assert visit.count() == 1  # today's visit comes first on the home page
        code = visit.get_attribute("data-visit")
        tally.tap(tab, f"[data-visit='{code}']")
        tab.wait_for_selector("#v-next")
        tally.look(tab)
        assert _next_kind(tab) == "check_in"
        assert c.room in tab.inner_text("#v-where")

        # 3. At the department's entrance: scan the poster, check in, get the number.
        tally.begin("check in")
        tally.taps[tally.step] += 1  # the camera opens the poster's link
        tab.goto(c.poster_link)
        tab.wait_for_selector("[data-arrivals] [data-action=arrived]")
        tally.tap(tab, "[data-arrivals] [data-action=arrived]")
        tab.wait_for_url("**/q/*")
        number = tab.inner_text("#q-number")
        tally.look(tab)
        tab.goto(f"/visits/{code}")
        assert _next_kind(tab) == "wait"
        assert number in tab.inner_text("#v-next-title")
        tally.look(tab)

        # 4. The doctor finds the patient by the visit code, calls, sees, orders both.
        tally.begin("seen")
        desk, doctor = steps.watched(
            browser, live_server, browser_problems, viewport=(1280, 900), lang=lang
        )
        contexts.append(desk)
        steps.staff_sign_in(doctor, c.doctor, f"/queueing/console/{c.counter_id}")
        assert _staff_scans(doctor, tally, c.counter_id, code, "consultation room") == number
        _serve(doctor, c.counter_id, number)
        _wait_next(tab, "go_now")
        assert c.room in tab.inner_text("#v-next-title")
        doctor.check(f"#order-{c.lab_item_id}")
        doctor.check(f"#order-{c.medicine_item_id}")
        doctor.click("[data-action-form=complete-and-order]")
        doctor.wait_for_url(f"**/queueing/console/{c.counter_id}")
        assert number in doctor.inner_text("[role=status]")

        # 5. The phone says what was ordered and how much; pay it there.
        tally.begin("pay the orders")
        _wait_next(tab, "pay_orders")
        timeline = tab.inner_text("#v-timeline")
        assert t["lab"] in timeline and t["medicine"] in timeline
        assert "81.00" in tab.inner_text("#v-next")  # 25.00 + 56.00
        text = steps.latest_sms(live_server, c.phone, r"/billing/orders/(\d+)/pay")
        order_id = text.group(1)
        # A second tab keeps the visit page open: it must move on by itself once paid.
        watching = phone_context.new_page()
        steps.watch(watching, browser_problems)
        watching.goto(f"/visits/{code}")
        tally.tap(tab, "#v-actions [data-action=pay]")
        tab.wait_for_url(f"**/billing/orders/{order_id}/pay")
        tally.tap(tab, "[data-action=pay]")
        tally.tap(tab, "[data-outcome=success]")
        tab.wait_for_url("**/billing/orders/*/result")
        steps.deliver_sandbox_notifications(live_server)

        # 6. The lab-draw and pharmacy numbers appear on the phone with no further tap.
        tally.begin("lab draw")
        _wait_next(watching, "wait")
        stations = watching.locator("#v-timeline li[data-kind=station]")
        assert stations.count() == 2
        tally.look(watching)
        lab_desk, lab = steps.watched(
            browser, live_server, browser_problems, viewport=(1280, 900), lang=lang
        )
        contexts.append(lab_desk)
        steps.staff_sign_in(lab, c.lab, f"/queueing/console/{c.lab_counter_id}")
        lab_number = _staff_scans(lab, tally, c.lab_counter_id, code, "lab draw")
        assert lab_number in watching.inner_text("#v-page")
        _serve(lab, c.lab_counter_id, lab_number)
        lab.click("[data-action=complete]")
        lab.wait_for_function("() => document.getElementById('q-current').textContent === '—'")

        tally.begin("pharmacy")
        pharmacy_desk, pharmacy = steps.watched(
            browser, live_server, browser_problems, viewport=(1280, 900), lang=lang
        )
        contexts.append(pharmacy_desk)
        steps.staff_sign_in(pharmacy, c.nurse, f"/queueing/console/{c.pharmacy_counter_id}")
        pharmacy_number = _staff_scans(pharmacy, tally, c.pharmacy_counter_id, code, "pharmacy")
        assert pharmacy_number != lab_number
        assert pharmacy_number in watching.inner_text("#v-page")
        tally.look(watching)
        _serve(pharmacy, c.pharmacy_counter_id, pharmacy_number)
        pharmacy.click("[data-action=complete]")
        pharmacy.wait_for_function("() => document.getElementById('q-current').textContent === '—'")

        # 7. The lab posts the result; the visit page's next step is the report.
        tally.begin("report")
        lab.goto("/reports/lab/new")
        lab.fill("input[name=patient]", code)  # the lab names the patient by the visit code too
        lab.fill("input[name=test_code]", TEST_CODE)
        lab.fill("input[name=test_name]", "血常规 Complete blood count")
        lab.fill("input[name=order_reference]", f"visit-order:{order_id}")
        lab.fill("textarea[name=results]", "白细胞 WBC | 6.1 | 10^9/L | 3.5-9.5")
        lab.fill("input[name=signed_by]", "赵检验")
        lab.click("main form button[type=submit]")
        lab.wait_for_url("**/reports/*")
        watching.close()
        tab.goto(f"/visits/{code}")
        assert _next_kind(tab) == "read_report"
        tally.look(tab)
        tally.tap(tab, "#v-actions a[href^='/reports/']")
        tab.wait_for_url("**/reports/*")
        tally.look(tab)
        tally.physical_queues = _window_tickets(live_server, c.phone)
    finally:
        for context in contexts:
            context.close()

    print(
        f"\njourney ({lang}): codes shown to the patient {len(tally.codes)} "
        f"(on pages {sorted(sorted(v) for v in tally.seen_on.values())}), "
        f"stations scanned {len(tally.stations_scanned)} ({', '.join(tally.stations_scanned)}), "
        f"physical queues {tally.physical_queues}, taps per step {dict(tally.taps)}"
    )
    assert len(tally.codes) == 1  # the visit code, and no other, at every station
    assert tally.stations_scanned == ["consultation room", "lab draw", "pharmacy"]
    assert tally.physical_queues == 0  # no window, no desk, no number-taking machine
    assert browser_problems.unexpected() == []
