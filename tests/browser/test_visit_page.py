"""The visit page in a real browser (zh and en): the large visit code and the one next step."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from hospital.visits.models import Visit
from queueing.services import calling, issuing
from scheduling.services import booking
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.kiosk_factories import create_clinic
from tests.support.scheduling_factories import slots_of

pytestmark = pytest.mark.browser

_phones = itertools.count(1)


def _sign_in(page: Any, live_server: Any) -> str:
    phone = f"1394000{next(_phones):04d}"  # a range of its own: the live server is shared
    page.goto("/")
    page.click("[data-action=sign-in]")
    page.fill("#f-phone", phone)
    page.click("[data-action=send-code]")
    page.wait_for_selector("[data-code-sent]")
    page.fill("#f-code", live_server.sign_in_code(phone))
    page.click("[data-action=verify-code]")
    # Signed in: the home page, after the privacy notice on an account's first sign-in.
    page.wait_for_url(lambda url: "/privacy?next=" in url or url == f"{live_server.url}/")
    if "/privacy" in page.url:
        page.click("[data-action=accept-privacy]")
        page.wait_for_url(f"{live_server.url}/")
    return phone


def _checked_in_visit(live_server: Any, phone: str) -> tuple[str, str, str, int]:
    """Book today's clinic for the phone's own patient and check in.

    Returns the visit code, the ticket's number, the room and the room's counter.
    """
    with live_server.app.app_context():
        now = utcnow()
        hospital = db.session.get(Hospital, live_server.hospital_id)
        account = db.session.scalar(sa.select(Account).where(Account.phone == phone))
        patient = factories.create_patient(
            hospital, account=account, phone=phone, birth_date=date(1960, 5, 1)
        )
        clinic = create_clinic(hospital, now=now)
        clinic.point.floor, clinic.point.room = "3", f"3{next(_phones):02d}"
        qf.open_queue(clinic.point, now=now)
        counter = qf.create_counter(clinic.point)
        slot = next(s for s in slots_of(clinic.session) if s.closes_at > now)
        held = booking.hold(actor=account, patient_id=patient.id, slot_id=slot.id, now=now)
        booking.confirm(held.id, actor=account, now=now)
        ticket, _new = issuing.check_in(
            actor=None, hospital_id=hospital.id, appointment_id=held.id, now=now
        )
        visit = db.session.scalar(sa.select(Visit).where(Visit.patient_id == patient.id))
        found = (visit.code, ticket.code, clinic.point.room, counter.id)
        db.session.commit()
        db.session.remove()
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_visit_page_shows_the_large_code_and_the_next_step(
    page: Any, live_server: Any, lang: str
) -> None:
    phone = _sign_in(page, live_server)
    code, ticket, room, counter_id = _checked_in_visit(live_server, phone)

    page.goto(f"/?lang={lang}")
    page.click(f"[data-visit='{code}']")  # today's visit comes first on the home page
    page.wait_for_selector("#v-next")
    assert page.get_attribute("#v-next", "data-kind") == "wait"
    title = page.inner_text("#v-next-title")
    assert ticket in title
    assert (
        ("前面" in title or "下一个" in title)
        if lang == "zh"
        else "ahead" in title or "next" in title
    )
    assert room in page.inner_text("#v-where")
    assert page.get_attribute("#v-code-text", "data-code") == code
    assert page.inner_text("#v-code-text").replace(" ", "") == code  # shown in groups of four

    # The code is large (at least 200 CSS px) and dark on white.
    box = page.locator("#v-qr svg").bounding_box()
    assert box is not None and box["width"] >= 200 and box["height"] >= 200
    background = page.evaluate(
        "getComputedStyle(document.querySelector('#v-qr svg')).backgroundColor"
    )
    assert background in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    title_size = page.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('v-next-title')).fontSize)"
    )
    assert title_size >= 28  # the next step in large type
    label = page.inner_text(".v-code figcaption")
    assert ("就诊码" in label) if lang == "zh" else ("Visit code" in label)

    # The nurse calls the number: the page changes by itself, over the ticket's event stream.
    with live_server.app.app_context():
        hospital_id = live_server.hospital_id
        calling.call_next(actor=None, hospital_id=hospital_id, counter_id=counter_id, now=utcnow())
        db.session.commit()
        db.session.remove()
    page.wait_for_selector("#v-next[data-kind=go_now]", timeout=15000)
    assert room in page.inner_text("#v-next-title")
