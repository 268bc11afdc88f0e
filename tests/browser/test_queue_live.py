"""A nurse calls a ticket in the console; the patient's ticket page and the hall's board update
within two seconds, without a reload."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from tests.support import factories
from tests.support import queueing_factories as qf

pytestmark = pytest.mark.browser

PASSWORD = "nurse-pw-4321"


@pytest.fixture
def queue_site(live_server: Any) -> dict[str, Any]:
    from hospital.organisation.models import Hospital

    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        point = factories.create_service_point(hospital, room="312", floor="3")
        qf.open_queue(point, now=utcnow())
        counter = qf.create_counter(point)
        nurse = factories.create_account(hospital, roles=(Role.NURSE,), password=PASSWORD)
        patient = factories.create_patient(hospital, name="张三明", birth_date=date(1990, 2, 3))
        ticket = qf.walk_in(hospital, point, now=utcnow(), patient_id=patient.id)
        site = {
            "point_id": point.id,
            "counter_id": counter.id,
            "nurse": nurse.username,
            "token": ticket.token,
            "code": ticket.code,
        }
        db.session.commit()
    return site


def _watch(context: Any, problems: list[str]) -> Any:
    tab = context.new_page()
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    return tab


def test_nurse_call_reaches_ticket_page_and_board_within_two_seconds(
    browser: Any, live_server: Any, queue_site: dict[str, Any]
) -> None:
    problems: list[str] = []
    phone = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="zh-CN"
    )
    hall = browser.new_context(
        base_url=live_server.url, viewport={"width": 1920, "height": 1080}, locale="zh-CN"
    )
    desk = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}, locale="zh-CN"
    )
    try:
        ticket_page = _watch(phone, problems)
        ticket_page.goto(f"/q/{queue_site['token']}")
        ticket_page.wait_for_function(
            "() => document.getElementById('q-ahead').dataset.ahead === '0'"
        )
        assert ticket_page.inner_text("#q-number") == queue_site["code"]
        assert ticket_page.get_attribute("#q-ahead", "aria-live") == "polite"

        # Record what the board would say instead of speaking (headless Chromium has no voices).
        hall.add_init_script(
            "window.spoken = [];"
            "window.SpeechSynthesisUtterance = function (text) { this.text = text; };"
            "Object.defineProperty(window, 'speechSynthesis', {value: {speak: function (u) {"
            " window.spoken.push({text: u.text, lang: u.lang}); }}});"
        )
        board = _watch(hall, problems)
        # The board has nothing to press: a hall screen turns its sound on by its address.
        board.goto(f"/queueing/board?points={queue_site['point_id']}&sound=1")
        board.wait_for_function(
            "() => document.querySelector('#q-next').textContent.includes('张*明')"
        )
        assert "张三明" not in board.content()

        signed = desk.request.post(
            "/api/v1/auth/password", data={"login": queue_site["nurse"], "password": PASSWORD}
        )
        assert signed.ok, signed.text()
        console = _watch(desk, problems)
        console.goto(f"/queueing/console/{queue_site['counter_id']}")
        console.wait_for_function(
            "() => document.getElementById('q-waiting-count').textContent === '1'"
        )

        console.click("#q-call-next")
        ticket_page.wait_for_function(
            "() => document.getElementById('q-status').dataset.status === 'called'", timeout=2000
        )
        board.wait_for_function(
            f"() => document.getElementById('q-now').dataset.code === '{queue_site['code']}'",
            timeout=2000,
        )
        assert "312" in ticket_page.inner_text("#q-ahead")
        assert "flash" in (board.get_attribute("#q-now", "class") or "")
        spoken = board.evaluate("window.spoken")
        assert {u["lang"] for u in spoken} == {"zh-CN", "en-US"}
        chinese = next(u["text"] for u in spoken if u["lang"] == "zh-CN")
        english = next(u["text"] for u in spoken if u["lang"] == "en-US")
        assert "A 零 零 一" in chinese and "三 一 二" in chinese  # digits one by one
        assert "A 0 0 1" in english and "3 1 2" in english
        assert all("*" not in u["text"] for u in spoken)
        assert "张*明" in board.inner_text("#q-now") and "张三明" not in board.inner_text("#q-now")
    finally:
        for context in (phone, hall, desk):
            context.close()
    assert not problems, problems


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_registrar_gives_a_walk_in_patient_a_number_at_the_desk(
    page: Any, live_server: Any, queue_site: dict[str, Any], lang: str
) -> None:
    from tests.browser.journey_steps import PASSWORD as STAFF_PASSWORD
    from tests.browser.journey_steps import staff_sign_in

    with live_server.app.app_context():
        from hospital.organisation.models import Hospital

        hospital = db.session.get(Hospital, live_server.hospital_id)
        registrar = factories.create_account(
            hospital, roles=(Role.REGISTRAR,), password=STAFF_PASSWORD
        )
        born = date(1941, 6, 9)
        elder = factories.create_patient(
            hospital,
            name="赵老四",
            birth_date=born,
            id_number=factories.make_resident_id(born, serial=41),
        )
        username, id_number = registrar.username, elder.id_number
        db.session.commit()
    staff_sign_in(page, username, f"/queueing/desk?lang={lang}")
    page.select_option("#desk-point", str(queue_site["point_id"]))
    page.fill("#desk-patient", id_number)
    page.select_option("#desk-priority", "elderly")
    page.click("[data-action=issue]")
    page.wait_for_selector("[data-desk-code]")
    assert page.inner_text("[data-desk-name]") == "赵*四"
    assert page.query_selector(".desk-qr svg") is not None
    assert "赵老四" not in page.inner_text("main")
