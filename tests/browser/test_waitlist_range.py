"""Join a waitlist for a doctor over a range of dates from the phone, in Chinese and in English."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hospital.db import db, utcnow

pytestmark = pytest.mark.browser

_n = itertools.count(1)
TEXT = {
    "zh": {"title": "加入候补", "first": "排第 1 位", "fee": "专家门诊", "band": "上午"},
    "en": {
        "title": "Join the waitlist",
        "first": "Number 1 in line",
        "fee": "Expert clinic",
        "band": "morning",
    },
}


def _seed(live_server: Any, lang: str) -> dict[str, Any]:
    from hospital.accounts.models import Language
    from hospital.organisation.models import Hospital
    from scheduling.models import FeeClass
    from scheduling.services import booking
    from tests.support import factories
    from tests.support.scheduling_factories import create_clinic_session, slots_of

    n = next(_n)
    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        day = now.astimezone(ZoneInfo(hospital.timezone)).date() + timedelta(days=2)
        department = factories.create_department(
            hospital, name_zh=f"眼科{n}", name_en=f"Ophthalmology {n}", sort_order=-40000 - n
        )
        clinician = factories.create_clinician(
            department, name_zh=f"陈医生{n}", name_en=f"Dr Chen {n}"
        )
        session = create_clinic_session(
            clinician,
            local_date=day,
            start=time(8),
            end=time(8, 15),
            capacity=1,
            fee_class=FeeClass.EXPERT,
            zone=hospital.timezone,
            release_at=now - timedelta(days=1),
        )
        # Someone else took the only place: the doctor is fully booked that day.
        other = factories.create_account(hospital, phone=f"1397100{n:04d}")
        other_patient = factories.create_patient(
            hospital, account=other, phone=other.phone, birth_date=date(1970, 1, 1)
        )
        held = booking.hold(
            actor=other, patient_id=other_patient.id, slot_id=slots_of(session)[0].id, now=now
        )
        booking.confirm(held.id, actor=other, now=now)
        phone = f"1397000{n:04d}"  # a range of its own: the live server is shared
        account = factories.create_account(
            hospital, phone=phone, language=Language.ZH if lang == "zh" else Language.EN
        )
        factories.create_patient(
            hospital, account=account, phone=phone, birth_date=date(1965, 6, 1)
        )
        db.session.commit()
        return {
            "phone": phone,
            "department_id": department.id,
            "clinician": clinician.name_zh if lang == "zh" else clinician.name_en,
            "day": day,
        }


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_patient_waits_for_a_fully_booked_doctor_over_a_week_in_the_mornings(
    page: Any, live_server: Any, lang: str
) -> None:
    seeded = _seed(live_server, lang)
    t = TEXT[lang]
    page.goto(f"/?lang={lang}")
    page.click("[data-action=sign-in]")
    page.fill("#f-phone", seeded["phone"])
    page.click("[data-action=send-code]")
    page.wait_for_selector("[data-code-sent]")
    page.fill("#f-code", live_server.sign_in_code(seeded["phone"]))
    page.click("[data-action=verify-code]")
    page.wait_for_url(lambda url: "/privacy?next=" in url or url == f"{live_server.url}/")
    if "/privacy" in page.url:
        page.click("[data-action=accept-privacy]")
        page.wait_for_url(f"{live_server.url}/")

    day = seeded["day"]
    page.goto(f"/book/departments/{seeded['department_id']}?day={day.isoformat()}")
    card = page.locator("[data-session]", has_text=seeded["clinician"])
    assert card.locator("[data-full]").count() == 1
    card.locator("[data-action=waitlist-clinician]").click()
    page.wait_for_url("**/waitlist/join?*")
    assert page.inner_text("h1") == t["title"]
    assert page.is_checked("#w-whom-clinician")
    last = day + timedelta(days=6)
    page.fill("#w-last", last.isoformat())
    page.select_option("#w-band", "morning")
    page.select_option("#w-fee", "expert")
    page.click("[data-action=join-waitlist-range]")

    page.wait_for_url("**/waitlist")
    text = page.locator("[data-waitlist-entry]").first.inner_text()
    assert seeded["clinician"] in text
    assert f"{day.isoformat()} – {last.isoformat()}" in text
    assert t["band"] in text and t["fee"] in text
    assert t["first"] in text
