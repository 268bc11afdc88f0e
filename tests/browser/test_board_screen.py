"""The display board full screen on a 1920 x 1080 landscape screen: no site header and nothing to
press, the department and the hospital's time, the called number in very large type, the next
numbers with masked names, live updates by Server-Sent Events, and no serious axe finding."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from hospital.accounts.models import Role
from hospital.db import db, utcnow
from hospital.zones import zone_for
from tests.browser.a11y import axe_violations, describe_violations
from tests.support import factories
from tests.support import queueing_factories as qf

pytestmark = pytest.mark.browser

BOARD = {"width": 1920, "height": 1080}
# Anything a passer-by could press, type into or tab to.
PRESSABLE = (
    "a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex='-1']), "
    "[contenteditable], [onclick]"
)


@pytest.fixture
def hall(live_server: Any) -> dict[str, Any]:
    from hospital.organisation.models import Hospital

    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        department = factories.create_department(
            hospital, name_zh="心血管内科", name_en="Cardiology"
        )
        point = factories.create_service_point(
            hospital, department_id=department.id, room="215", floor="2"
        )
        qf.open_queue(point, now=utcnow())
        counter = qf.create_counter(point)
        nurse = factories.create_account(hospital, roles=(Role.NURSE,))
        tickets = []
        for name in ("赵一凡", "钱二宝", "孙三多"):
            patient = factories.create_patient(hospital, name=name, birth_date=date(1980, 5, 6))
            tickets.append(qf.walk_in(hospital, point, now=utcnow(), patient_id=patient.id).code)
        db.session.commit()
        return {
            "department": department.id,
            "counter": counter.id,
            "nurse": nurse.id,
            "tickets": tickets,
            "zone": zone_for(hospital),
        }


def _call_next(live_server: Any, hall: dict[str, Any]) -> str:
    """The nurse calls the next number (as the console does), committed at the edge."""
    from hospital.accounts.models import Account
    from hospital.unit_of_work import unit_of_work
    from queueing.services import calling

    with live_server.app.app_context(), unit_of_work():
        result = calling.call_next(
            actor=db.session.get(Account, hall["nurse"]),
            hospital_id=live_server.hospital_id,
            counter_id=hall["counter"],
            now=utcnow(),
        )
        assert result.ticket is not None
        return str(result.ticket.code)


def test_the_board_fills_the_screen_with_nothing_to_press_and_updates_live(
    page: Any, live_server: Any, hall: dict[str, Any]
) -> None:
    page.set_viewport_size(BOARD)
    page.goto(f"/queueing/board?department={hall['department']}&lang=zh")
    page.wait_for_function("() => document.querySelectorAll('#q-next .q-row').length === 3")

    # No site header, no language, elder-mode or sign-in control: nothing at all to press.
    assert page.query_selector(".site-header") is None
    assert page.query_selector_all(PRESSABLE) == []
    # The department, in both languages, and the hospital's time.
    place = page.inner_text("[data-board-place]")
    assert "心血管内科" in place and "Cardiology" in place
    local = utcnow().astimezone(hall["zone"])
    around = {(local + timedelta(minutes=m)).strftime("%H:%M") for m in (-1, 0, 1, 2)}
    assert page.inner_text("#q-time") in around
    assert page.inner_text("#q-date")
    # The next numbers with masked names only; the whole board on one screen, no scrolling.
    next_text = page.inner_text("#q-next")
    assert all(code in next_text for code in hall["tickets"])
    assert "赵*凡" in next_text and "赵一凡" not in page.content()
    assert page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]"
    ) == [BOARD["width"], BOARD["height"]]

    # A call reaches the board by its event stream, in very large type.
    called = _call_next(live_server, hall)
    page.wait_for_function(
        f"() => document.getElementById('q-now').dataset.code === '{called}'", timeout=10_000
    )
    assert "赵*凡" in page.inner_text("#q-now") and "215" in page.inner_text("#q-now")
    size = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.q-now-code')).fontSize)"
    )
    assert size >= 150, f"the called number is {size}px high"
    assert called not in page.inner_text("#q-next")
    assert page.query_selector_all(PRESSABLE) == []

    # The call's flash (three 1 s pulses of the panel's colours) is judged at rest: axe reads
    # whatever colour a running animation has reached, which is between the two on purpose.
    page.evaluate("() => document.getAnimations().forEach((a) => a.finish())")
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)


def test_the_english_board_names_its_department_in_english_first(
    page: Any, live_server: Any, hall: dict[str, Any]
) -> None:
    page.set_viewport_size(BOARD)
    page.goto(f"/queueing/board?department={hall['department']}&lang=en")
    page.wait_for_selector("#q-next .q-row")
    assert page.inner_text("[data-board-place]").startswith("Cardiology")
    assert page.inner_text("#q-calling-title") == "Now calling"
    violations = axe_violations(page)
    assert not violations, describe_violations(violations)
