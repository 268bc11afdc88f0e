"""A paid order moves the patient on: pay a lab order from the phone, the lab-draw number shows."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from hospital.db import db, utcnow
from tests.browser import journey_steps as steps

pytestmark = pytest.mark.browser

_n = itertools.count(1)
TEXT = {
    "zh": {"tickets": "我的排队号", "point": "采血室"},
    "en": {"tickets": "My queue numbers", "point": "Blood draw"},
}


def _seed(live_server: Any, lang: str) -> dict[str, Any]:
    from hospital.accounts.models import Language, Role
    from hospital.billing.models import ItemCategory
    from hospital.organisation.models import Hospital, ServicePointKind
    from tests.support import factories
    from tests.support.billing_factories import create_visit_order
    from tests.support.queueing_factories import open_queue

    n = next(_n)
    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        point = factories.create_service_point(
            hospital,
            kind=ServicePointKind.LAB_DRAW,
            code=f"LABDRAW{n}",
            name_zh=f"采血室{n}",
            name_en=f"Blood draw room {n}",
        )
        open_queue(point, now=now)
        phone = f"1395000{n:04d}"  # a range of its own: the live server is shared
        account = factories.create_account(
            hospital, phone=phone, language=Language.ZH if lang == "zh" else Language.EN
        )
        patient = factories.create_patient(hospital, account=account, phone=phone)
        clinician = factories.create_account(hospital, roles=(Role.CLINICIAN,))
        order = create_visit_order(
            hospital,
            patient,
            now=now,
            staff=clinician,
            prices=((3000, ItemCategory.LAB_TEST),),
            visit_key=f"ticket:{900000 + n}",
        )
        db.session.commit()
        return {"phone": phone, "order_id": order.id, "patient_id": patient.id}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_paying_a_lab_order_on_the_phone_shows_the_lab_draw_number(
    browser: Any, live_server: Any, browser_problems: Any, lang: str
) -> None:
    from hospital.organisation.models import ServicePoint, ServicePointKind
    from queueing.models import ServiceQueue, Ticket

    t = TEXT[lang]
    with steps.payments_reach_this_server(live_server):
        seeded = _seed(live_server, lang)
        # The patient heard of the order at once, with the link to pay it.
        order_sms = steps.latest_sms(
            live_server, seeded["phone"], rf"/billing/orders/{seeded['order_id']}/pay"
        )
        assert order_sms
        context, tab = steps.watched(browser, live_server, browser_problems, lang=lang)
        try:
            tab.goto("/")
            tab.click("[data-action=sign-in]")
            tab.fill("#f-phone", seeded["phone"])
            tab.click("[data-action=send-code]")
            tab.wait_for_selector("[data-code-sent]")
            tab.fill("#f-code", live_server.sign_in_code(seeded["phone"]))
            tab.click("[data-action=verify-code]")
            # Signed in: the home page, after the privacy notice on an account's first sign-in.
            tab.wait_for_url(lambda url: "/privacy?next=" in url or url == f"{live_server.url}/")
            if "/privacy" in tab.url:
                tab.click("[data-action=accept-privacy]")
                tab.wait_for_url(f"{live_server.url}/")

            tab.goto(f"/billing/orders/{seeded['order_id']}/pay")
            assert "30.00" in tab.inner_text("[data-self-pay]")
            tab.click("[data-action=pay]")
            tab.click("[data-outcome=success]")
            tab.wait_for_url("**/billing/orders/*/result")
            steps.deliver_sandbox_notifications(live_server)
            tab.reload()
            assert tab.is_visible("[data-result=paid]")
            tab.click("[data-action=next-step]")
            tab.wait_for_url("**/tickets")
            assert tab.inner_text("h1") == t["tickets"]
            with live_server.app.app_context():
                import sqlalchemy as sa

                # The lab draw (the hospital's first lab-draw counter) gave the patient a number.
                code = db.session.scalar(
                    sa.select(Ticket.code)
                    .join(ServiceQueue, ServiceQueue.id == Ticket.queue_id)
                    .join(ServicePoint, ServicePoint.id == ServiceQueue.service_point_id)
                    .where(
                        Ticket.patient_id == seeded["patient_id"],
                        ServicePoint.kind == ServicePointKind.LAB_DRAW,
                    )
                )
                db.session.remove()
            assert code
            card = tab.locator(f"[data-ticket='{code}']")
            assert card.count() == 1
            assert t["point"] in card.inner_text()
            card.locator("[data-action=open-ticket]").click()
            tab.wait_for_url("**/q/*")
            assert code in tab.inner_text("main")
        finally:
            context.close()
    assert browser_problems.unexpected() == []
