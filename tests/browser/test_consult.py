"""A daughter asks her father's doctor about his report, pays, the doctor answers and renews a
prescription, she pays it and sees the pharmacy number: in Chinese and in English."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.db import db, utcnow
from tests.browser import journey_steps as steps

pytestmark = pytest.mark.browser

_n = itertools.count(1)
TEXT = {
    "zh": {
        "question": "爸爸化验单上谷丙转氨酶偏高，要吃药吗？",
        "answer": "先不用吃药，续开降脂药一个月。",
    },
    "en": {
        "question": "Dad's ALT is high on his report: does he need medicine?",
        "answer": "No medicine yet; statin renewed for a month.",
    },
}


def _seed(live_server: Any, lang: str) -> dict[str, Any]:
    from hospital.accounts.models import Language, Role
    from hospital.billing.models import ItemCategory
    from hospital.organisation.models import Hospital, ServicePointKind
    from tests.support import factories
    from tests.support.billing_factories import create_fee_item
    from tests.support.consult_factories import factories_link, seen_by
    from tests.support.queueing_factories import open_queue

    n = next(_n)
    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        point = factories.create_service_point(
            hospital,
            kind=ServicePointKind.PHARMACY,
            code=f"CPHA{n}",
            name_zh="药房",
            name_en="Pharmacy",
        )
        open_queue(point, now=now)
        department = factories.create_department(hospital, code=f"CNK{n}")
        username = f"consult-doctor-{lang}-{n}"
        doctor_account = factories.create_account(
            hospital,
            roles=(Role.CLINICIAN,),
            password=steps.PASSWORD,
            username=username,
            language=Language.ZH if lang == "zh" else Language.EN,
        )
        doctor = factories.create_clinician(department, account_id=doctor_account.id)
        language = Language.ZH if lang == "zh" else Language.EN
        father_phone = f"1396200{n:04d}"  # ranges of their own: the live server is shared
        daughter_phone = f"1396300{n:04d}"
        father_account = factories.create_account(hospital, phone=father_phone, language=language)
        father = factories.create_patient(hospital, account=father_account, phone=father_phone)
        daughter = factories.create_account(hospital, phone=daughter_phone, language=language)
        factories_link(hospital, daughter, father)
        seen_by(doctor, father, father_account, days_ago=3, now=now)
        medicine = create_fee_item(
            hospital,
            price_fen=4200,
            category=ItemCategory.MEDICINE,
            code=f"STATIN{lang}{n}",
            name_zh="阿托伐他汀钙片",
            name_en="Atorvastatin tablets",
        )
        db.session.commit()
        return {
            "daughter_phone": daughter_phone,
            "father_id": father.id,
            "doctor": username,
            "medicine": medicine.code,
        }


def _sign_in_by_phone(tab: Any, live_server: Any, phone: str) -> None:
    tab.goto("/")
    tab.click("[data-action=sign-in]")
    tab.fill("#f-phone", phone)
    tab.click("[data-action=send-code]")
    tab.wait_for_selector("[data-code-sent]")
    tab.fill("#f-code", live_server.sign_in_code(phone))
    tab.click("[data-action=verify-code]")
    tab.wait_for_url(lambda url: "/privacy?next=" in url or url == f"{live_server.url}/")
    if "/privacy" in tab.url:
        tab.click("[data-action=accept-privacy]")
        tab.wait_for_url(f"{live_server.url}/")


def _pay_here(tab: Any, live_server: Any) -> None:
    tab.click("[data-action=pay]")
    tab.click("[data-outcome=success]")
    tab.wait_for_url("**/billing/orders/*/result")
    steps.deliver_sandbox_notifications(live_server)
    tab.reload()
    assert tab.is_visible("[data-result=paid]")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_daughter_asks_pays_and_gets_a_renewed_prescription_with_a_pharmacy_number(
    browser: Any, live_server: Any, browser_problems: Any, lang: str
) -> None:
    from consult.models import Consultation
    from queueing.models import StationTicket, Ticket

    t = TEXT[lang]
    with steps.payments_reach_this_server(live_server):
        seeded = _seed(live_server, lang)
        context, tab = steps.watched(browser, live_server, browser_problems, lang=lang)
        doctor_context, doctor_tab = steps.watched(
            browser, live_server, browser_problems, lang=lang
        )
        try:
            _sign_in_by_phone(tab, live_server, seeded["daughter_phone"])
            tab.goto(f"/consult/ask/{seeded['father_id']}")
            assert tab.is_visible("[data-not-for-emergencies]")
            tab.fill("[data-question]", t["question"])
            tab.click("[data-send]")
            tab.wait_for_url("**/billing/orders/*/pay")
            _pay_here(tab, live_server)
            with live_server.app.app_context():
                consultation_id = db.session.scalar(
                    sa.select(Consultation.id).where(Consultation.patient_id == seeded["father_id"])
                )
                db.session.remove()
            assert consultation_id

            steps.staff_sign_in(doctor_tab, seeded["doctor"], "/staff/consult")
            doctor_tab.click(f"[data-consultation='{consultation_id}'] a")
            doctor_tab.wait_for_selector("[data-patient-context]")
            assert t["question"] in doctor_tab.inner_text("[data-thread]")
            doctor_tab.fill("[data-answer]", t["answer"])
            doctor_tab.check(f"[data-medicine='{seeded['medicine']}']")
            doctor_tab.click("[data-send-answer]")
            doctor_tab.wait_for_selector("[data-message=answer]")

            tab.goto(f"/consult/{consultation_id}")
            assert t["answer"] in tab.inner_text("[data-message=answer]")
            tab.click("[data-pay-order]")
            tab.wait_for_url("**/billing/orders/*/pay")
            _pay_here(tab, live_server)
            tab.goto(f"/consult/{consultation_id}")
            assert tab.is_visible("[data-my-numbers]")
            with live_server.app.app_context():
                code = db.session.scalar(
                    sa.select(Ticket.code)
                    .join(StationTicket, StationTicket.ticket_id == Ticket.id)
                    .where(Ticket.patient_id == seeded["father_id"])
                )
                db.session.remove()
            assert code
            tab.click("[data-my-numbers]")
            tab.wait_for_url("**/tickets")
            assert tab.locator(f"[data-ticket='{code}']").count() == 1
            assert not browser_problems.unexpected()
        finally:
            context.close()
            doctor_context.close()
