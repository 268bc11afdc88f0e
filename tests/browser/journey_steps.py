"""The patient journey's cast and scenery: seeded staff, clinic, kiosk and board, the words each
page says in either language, and browser tabs watched like the `page` fixture's."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from hospital.accounts.models import Role
from hospital.db import db, utcnow

_n = itertools.count(1)
PASSWORD = "journey-staff-pw-2468"
PARENT = "王秀英"
PARENT_MASKED = "王*英"
AHEAD_NAME = "张三明"
EXPERT_FEE = "¥50.00"
LAB_FEE = "¥25.00"
TEST_CODE = "CBC"

TEXT = {
    "zh": {
        "family": "我的家庭成员",
        "parent": "父母",
        "book": "预约挂号",
        "appointments": "我的预约",
        "orders": "我的缴费与收据",
        "tickets": "我的排队号",
        "reports": "我的报告",
        "expert": "专家门诊",
        "booked": "已预约",
        "here": "这是您的排队号",
        "printing": "正在为您打印凭条",
        "lab_item": "血常规",
        "one_ahead": "您前面还有 1 位",
    },
    "en": {
        "family": "My family members",
        "parent": "My parent",
        "book": "Book an appointment",
        "appointments": "My appointments",
        "orders": "My orders and receipts",
        "tickets": "My queue numbers",
        "reports": "My reports",
        "expert": "Expert clinic",
        "booked": "Booked",
        "here": "Here is your number",
        "printing": "Your ticket is being printed",
        "lab_item": "Complete blood count",
        "one_ahead": "1 ahead of you",
    },
}
KIOSK_RECORDERS = """
window.__printed = 0;
window.print = function () { window.__printed += 1; };
if (window.speechSynthesis) {
  window.speechSynthesis.speak = function () {};
  window.speechSynthesis.cancel = function () {};
}
"""
# Headless Chromium has no voices: record what the board would say.
BOARD_RECORDERS = (
    "window.spoken = [];"
    "window.SpeechSynthesisUtterance = function (text) { this.text = text; };"
    "Object.defineProperty(window, 'speechSynthesis', {value: {speak: function (u) {"
    " window.spoken.push({text: u.text, lang: u.lang}); }, cancel: function () {}}});"
)


@dataclass
class Site:
    """What the hospital set up before the patient arrives (staff work, not the journey)."""

    n: int
    department: str
    clinician: str
    session_id: int
    point_id: int
    room: str
    counter_id: int
    kiosk_token: str
    nurse: str
    doctor: str
    lab: str
    lab_item_id: int
    ahead_code: str


def _clock_zone(now: datetime) -> str:
    """A zone where now is mid-day, so today's session has bookable slots in any CI hour."""
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    if 7 <= local.hour < 20:
        return "Asia/Shanghai"
    offset = 12 - now.hour  # Etc/GMT-N is N hours east of UTC
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


@contextmanager
def daytime_hospital(live_server: Any) -> Iterator[None]:
    """Run in a hospital zone where the clinic is open now; put the shared hospital back after."""
    from hospital.organisation.models import Hospital

    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        saved = hospital.timezone
        hospital.timezone = _clock_zone(utcnow())
        db.session.commit()
    try:
        yield
    finally:
        with live_server.app.app_context():
            hospital = db.session.get(Hospital, live_server.hospital_id)
            hospital.timezone = saved
            db.session.commit()


@contextmanager
def payments_reach_this_server(live_server: Any) -> Iterator[None]:
    """Links, QR codes and the sandbox's notify and checkout addresses point at the live server."""
    keys = {"PUBLIC_URL": live_server.url, "BILLING_SANDBOX_MAX_DELAY_S": 0}
    saved = {k: live_server.app.config.get(k) for k in keys}
    live_server.app.config.update(keys)
    try:
        yield
    finally:
        live_server.app.config.update(saved)


def seed(live_server: Any) -> Site:
    from hospital.billing.models import ItemCategory
    from hospital.organisation.models import Hospital
    from reports.release import ReleaseRule
    from reports.services import test_types
    from tests.support import factories
    from tests.support.billing_factories import create_fee_item
    from tests.support.kiosk_factories import create_kiosk
    from tests.support.queueing_factories import create_counter, open_queue, walk_in

    n = next(_n)
    with live_server.app.app_context():
        hospital = db.session.get(Hospital, live_server.hospital_id)
        now = utcnow()
        zone = ZoneInfo(hospital.timezone)
        local = now.astimezone(zone)
        department = factories.create_department(
            hospital,
            name_zh=f"心血管内科{n}",
            name_en=f"Cardiology {n}",
            pinyin_initials="xxgnk",
            sort_order=-20000 - n,
        )
        clinician = factories.create_clinician(
            department, name_zh=f"李主任{n}", name_en=f"Dr Li {n}"
        )
        point = factories.create_service_point(
            hospital,
            department_id=department.id,
            room=f"5{n:02d}",
            floor="5",
            name_zh=f"心内科{n}诊室",
            name_en=f"Cardiology room {n}",
            directions_zh="出电梯左转",
            directions_en="Turn left out of the lift",
        )
        session = expert_session_starting_now(
            hospital, clinician, point, local=local, now=now, capacity=2
        )
        lab_item = create_fee_item(
            hospital,
            price_fen=2500,
            category=ItemCategory.LAB_TEST,
            name_zh="血常规",
            name_en="Complete blood count",
        )
        queue_now = now
        open_queue(point, now=queue_now)
        counter = create_counter(point)
        _device, kiosk_token = create_kiosk(
            hospital, now=now, name=f"Journey kiosk {n}", location="门诊大厅 / Outpatient hall"
        )
        nurse = factories.create_account(hospital, roles=(Role.NURSE,), password=PASSWORD)
        doctor = factories.create_account(hospital, roles=(Role.CLINICIAN,), password=PASSWORD)
        lab = factories.create_account(hospital, roles=(Role.LAB,), password=PASSWORD)
        test_types.save_test_type(
            hospital.id,
            TEST_CODE,
            name_zh="血常规",
            name_en="Complete blood count",
            release_rule=ReleaseRule.IMMEDIATE,
            release_delay_minutes=0,
            actor=lab,
        )
        # Someone already waiting in the room's queue, so the patient's phone has a line to show.
        other = factories.create_patient(hospital, name=AHEAD_NAME, birth_date=date(1980, 5, 6))
        ahead = walk_in(hospital, point, now=now, patient_id=other.id)
        db.session.commit()
        return Site(
            n=n,
            department=department.name_zh,
            clinician=clinician.name_zh,
            session_id=session.id,
            point_id=point.id,
            room=point.room,
            counter_id=counter.id,
            kiosk_token=kiosk_token,
            nurse=nurse.username,
            doctor=doctor.username,
            lab=lab.username,
            lab_item_id=lab_item.id,
            ahead_code=ahead.code,
        )


def expert_session_starting_now(
    hospital: Any, clinician: Any, point: Any, *, local: datetime, now: datetime, capacity: int
) -> Any:
    """An expert session (and its 50-yuan fee) from the quarter hour before now until two hours
    on: its next slot starts within fifteen minutes, inside its check-in window (an hour before
    to 15 minutes after)."""
    from hospital.billing.models import RegistrationFee
    from scheduling.models import FeeClass
    from tests.support.scheduling_factories import create_clinic_session

    floor_minutes = local.hour * 60 + local.minute // 15 * 15
    start = max(0, floor_minutes - 15)
    end = min(23 * 60 + 45, floor_minutes + 120)
    session = create_clinic_session(
        clinician,
        local_date=local.date(),
        start=time(*divmod(start, 60)),
        end=time(*divmod(end, 60)),
        capacity=capacity,
        fee_class=FeeClass.EXPERT,
        fee_fen=5000,
        service_point_id=point.id,
        zone=hospital.timezone,
        release_at=now - timedelta(days=7),
    )
    if (
        db.session.query(RegistrationFee)
        .filter_by(hospital_id=hospital.id, fee_class="expert")
        .first()
        is None
    ):
        db.session.add(
            RegistrationFee(
                hospital_id=hospital.id,
                fee_class="expert",
                name_zh="专家号挂号费",
                name_en="Expert registration fee",
                amount_fen=5000,
            )
        )
    return session


def watched(
    browser: Any,
    live_server: Any,
    problems: Any,
    *,
    viewport: tuple[int, int] = (390, 844),
    lang: str = "zh",
) -> tuple[Any, Any]:
    """A new browser context and tab that report problems like the `page` fixture's tab."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": viewport[0], "height": viewport[1]},
        locale="zh-CN" if lang == "zh" else "en-GB",
        device_scale_factor=1,
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    own_host = urlsplit(live_server.url).netloc

    def only_our_server(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own_host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            problems.found.append(f"off-site request blocked: {url}")
            route.abort()

    context.route("**/*", only_our_server)
    tab = context.new_page()
    watch(tab, problems)
    return context, tab


def watch(tab: Any, problems: Any) -> None:
    report = problems.found.append
    tab.on(
        "console", lambda m: report(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    tab.on("pageerror", lambda exc: report(f"page error: {exc}"))
    tab.on(
        "requestfailed",
        lambda r: (
            report(f"request failed: {r.url} ({r.failure})")
            if "ERR_ABORTED" not in (r.failure or "")
            else None
        ),
    )
    tab.on(
        "response",
        lambda r: (
            report(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )


def staff_sign_in(tab: Any, username: str, next_path: str) -> None:
    """A member of staff signs in with a password on the sign-in page and lands on next_path."""
    tab.goto(f"/sign-in/password?next={next_path}")
    tab.fill("#f-login", username)
    tab.fill("#f-password", PASSWORD)
    tab.click("[data-action=password-sign-in]")
    tab.wait_for_url(f"**{next_path}")


def deliver_sandbox_notifications(live_server: Any) -> None:
    """Run the sandbox's notification job once, as the scheduler would every few seconds.

    The job's posts are sent after its transaction commits: posted from inside it, our notify
    endpoint waits for the SQLite write lock the job holds (see the report on issue #8).
    """
    import requests

    from hospital.billing.jobs import deliver_sandbox_notifications as job
    from hospital.unit_of_work import unit_of_work

    posts: list[tuple[str, bytes, dict[str, str]]] = []

    def later(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        posts.append((url, body, headers))
        return 200, "ok"

    with live_server.app.app_context(), unit_of_work():
        job(now=utcnow(), transport=later)
    # Other tests sharing this server may have left payments addressed elsewhere: ours only.
    posts = [post for post in posts if post[0].startswith(live_server.url)]
    assert posts, "the sandbox had no notification to send"
    for url, body, headers in posts:
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        assert answer.status_code == 200 and answer.text == "ok", (
            f"our notify endpoint answered {answer.status_code}: {answer.text[:200]}"
        )


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def medical_record_number(live_server: Any, name: str) -> str:
    """What the lab reads off the sample tube's label."""
    import sqlalchemy as sa

    from hospital.patients.models import Patient

    with live_server.app.app_context():
        return db.session.scalars(
            sa.select(Patient.medical_record_number)
            .where(Patient.hospital_id == live_server.hospital_id, Patient.name == name)
            .order_by(Patient.id.desc())
        ).first()


def latest_sms(live_server: Any, phone: str, pattern: str) -> re.Match[str]:
    """The newest text to phone whose body matches pattern (after delivering the outbox)."""
    live_server.deliver_messages()
    masked = phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    for to, body in reversed(live_server.sms.messages):
        found = re.search(pattern, body)
        if to == masked and found:
            return found
    raise AssertionError(f"no text to {masked} matching {pattern!r}: {live_server.sms.messages}")
