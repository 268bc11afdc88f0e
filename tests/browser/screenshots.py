"""Render the main screens into PNGs: `python tests/browser/screenshots.py [outdir]`.

Starts its own server on a temporary SQLite database seeded with `hospital seed-demo`, opens
each screen in the system Chromium as the person who would see it, and writes
`<outdir>/<name>.png` (default docs/screenshots/). A screen is one line in SHOTS; a PDF is
one line in PDFS (converted with poppler's `pdftoppm`).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from hospital.demo import KIOSK_TOKEN  # noqa: E402
from hospital.web.i18n import ELDER_COOKIE  # noqa: E402
from tests.browser.a11y import preference_cookies, session_cookie  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PHONE = (390, 844)
TABLET = (820, 1180)
DESKTOP = (1280, 800)
STAFF_DESKTOP = (1366, 768)
BOARD = (1920, 1080)
KIOSK = (1080, 1920)  # the kiosk's portrait touch screen
PATIENT = "13800000001"  # 李梅, with her father 李建华 and her child (see hospital/demo.py)
CASHIER = "cashier"
ADMIN = "admin"
KIOSK_DEVICE = "kiosk"  # the demo kiosk's device token (hospital/demo.py KIOSK_TOKEN)


@dataclass(frozen=True)
class Shot:
    """A screen: file name, path (formatted with the ids made below), viewport, who is signed in."""

    name: str
    url: str
    viewport: tuple[int, int] = PHONE
    sign_in_as: str | None = None
    elder: bool = False
    full_page: bool = True
    # Live pages (an open event stream) never go network-idle: wait for what they draw instead.
    ready: str | None = None
    # Controls to press, in order, before the picture (e.g. the kiosk's own elder-mode switch);
    # "fill:<selector>=<text>" types the text into that box instead.
    click: str | tuple[str, ...] | None = None
    # What the clicks bring up, waited for before the picture.
    shown: str | None = None


# fmt: off
SHOTS: list[Shot] = [
    Shot("home-zh", "/?lang=zh"),
    Shot("home-en", "/?lang=en"),
    Shot("sign-in", "/sign-in?lang=zh"),
    Shot("family", "/family?lang=zh", sign_in_as=PATIENT),
    Shot("family-elder", "/family?lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("home-elder", "/?lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("billing-pay", "/billing/orders/{pending_order}/pay?lang=zh", sign_in_as=PATIENT),
    Shot("billing-orders", "/billing/orders?lang=en", sign_in_as=PATIENT),
    # The daughter shows her father's medical-insurance code and shares her account (#22).
    Shot("insurance-code", "/billing/insurance/?patient={father}&lang=zh", sign_in_as=PATIENT),
    Shot("insurance-code-en", "/billing/insurance/?patient={father}&lang=en", sign_in_as=PATIENT),
    Shot("insurance-code-elder", "/billing/insurance/?patient={father}&lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("cashier-console", "/billing/cashier?lang=zh", DESKTOP, sign_in_as=CASHIER, full_page=False),
    Shot("book-departments", "/book?lang=zh", sign_in_as=PATIENT),
    Shot("book-slots", "/book/sessions/{future_session}?lang=zh", sign_in_as=PATIENT),
    Shot("book-slots-elder", "/book/sessions/{future_session}?lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("book-confirm", "/appointments/{held_appointment}/confirm?lang=zh", sign_in_as=PATIENT),
    Shot("my-appointments", "/appointments?lang=zh", sign_in_as=PATIENT),
    Shot("waitlist-join", "/book/sessions/{sold_out_session}?lang=zh", sign_in_as=PATIENT),
    Shot("waitlist-mine", "/waitlist?lang=zh", sign_in_as=PATIENT),
    Shot("waitlist-offer", "/waitlist/offers/{waitlist_offer}?lang=zh", sign_in_as=PATIENT),
    Shot("waitlist-offer-elder", "/waitlist/offers/{waitlist_offer}?lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("ticket", "/q/{ticket_token}?lang=zh", ready="#q-ahead[data-ahead]"),
    Shot("ticket-en", "/q/{ticket_token}?lang=en", ready="#q-ahead[data-ahead]"),
    Shot("report", "/reports/{report}?lang=zh", sign_in_as=PATIENT),
    Shot("visit", "/visits/{visit_code}?lang=zh", sign_in_as=PATIENT, ready="#v-next"),
    Shot("visit-en", "/visits/{visit_code}?lang=en", sign_in_as=PATIENT, ready="#v-next"),
    Shot("visit-elder", "/visits/{visit_code}?lang=zh", sign_in_as=PATIENT, elder=True, ready="#v-next"),
    Shot("visit-desk", "/visits/desk?q={visit_code}&lang=zh", DESKTOP, sign_in_as=ADMIN),
    Shot("staff-day", "/staff/day?clinician_id={clinician}&lang=zh", DESKTOP, sign_in_as=ADMIN),
    Shot("queue-console", "/queueing/console/{counter}?lang=zh", DESKTOP, sign_in_as=ADMIN, ready="#q-waiting tr"),
    Shot("display-board", "/queueing/board?department={department}&lang=zh", BOARD, full_page=False, ready="#q-next .q-row"),
    Shot("kiosk", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='[data-screen="start"]:not([hidden])'),
    Shot("kiosk-elder", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='[data-screen="start"]:not([hidden])', click="[data-action=elder]"),
    Shot("kiosk-keypad", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='#kiosk[data-current="start"]',
         click=("[data-action=check-in]", "[data-action=by-phone]", *(f'[data-screen="phone"] [data-key="{k}"]' for k in "1380013"))),
    Shot("kiosk-departments", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='#kiosk[data-current="start"]',
         click="[data-action=walk-in]", shown="[data-department]"),
    # The A-Z index of departments (#16) and the kiosk's letter keys.
    Shot("book-departments-letter", "/book?letter=N&lang=zh", sign_in_as=PATIENT),
    Shot("book-departments-elder", "/book?lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("kiosk-departments-letter", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='#kiosk[data-current="start"]',
         click=("[data-action=walk-in]", '[data-letter-bar] [data-letter="E"]'), shown="[data-department]"),
    # A walk-in without a phone: the slip for the desk, with the QR code the desk scans (#16).
    Shot("kiosk-desk-slip", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='#kiosk[data-current="start"]',
         click=("[data-action=walk-in]", "[data-department]", "[data-action=no-phone]"), shown="[data-desk-qr] svg"),
    # Say it in your own words (智能导诊, #22): the booking page and the kiosk; a red flag first.
    Shot("book-triage", "/book?q=孩子发烧咳嗽&lang=zh", sign_in_as=PATIENT),
    Shot("book-triage-en", "/book?q=my knee hurts&lang=en", sign_in_as=PATIENT),
    Shot("book-triage-elder", "/book?q=胸痛&lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("kiosk-triage", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='#kiosk[data-current="start"]',
         click=("[data-action=guide-ask]", "fill:#k-guide-q=孩子发烧咳嗽", '[data-guide-form] button[type="submit"]'), shown="[data-guide-answer] *"),
    Shot("kiosk-triage-elder", "/kiosk?lang=zh", KIOSK, sign_in_as=KIOSK_DEVICE, full_page=False, ready='#kiosk[data-current="start"]',
         click=("[data-action=elder]", "[data-action=guide-ask]", "fill:#k-guide-q=膝盖疼", '[data-guide-form] button[type="submit"]'), shown="[data-guide-answer] *"),
    # Finding the way inside the hospital (院内导航, #22): the floor map and the steps.
    Shot("guide-route", "/guide/route?to_point={room_code}&lang=zh"),
    Shot("guide-route-en", "/guide/route?to_point={room_code}&lang=en"),
    Shot("guide-route-elder", "/guide/route?to_point={room_code}&accessible=1&lang=zh", elder=True),
    Shot("guide-map-admin", "/staff/guide/map?lang=zh", STAFF_DESKTOP, sign_in_as=ADMIN, full_page=False),
    # The elder's patient card, carried by the family (#22).
    Shot("family-codes", "/family/codes?patient={father}&lang=zh", sign_in_as=PATIENT),
    Shot("family-codes-en", "/family/codes?patient={father}&lang=en", sign_in_as=PATIENT),
    Shot("family-codes-elder", "/family/codes?patient={father}&lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("report-statistics", "/reports/statistics?lang=zh", DESKTOP, sign_in_as=ADMIN),
    # Staff at their desks (#16): each role's home, the console, intake, the schedule grid.
    *[Shot(f"staff-home-{who}", "/?lang=zh", STAFF_DESKTOP, sign_in_as=who, full_page=False) for who in ("registrar", "nurse", "doctor", "lab", "cashier", "admin")],
    Shot("queue-console-desktop", "/queueing/console/{counter}?lang=zh", STAFF_DESKTOP, sign_in_as=ADMIN, full_page=False, ready="#q-waiting tr"),
    Shot("lab-entry", "/reports/lab/new?lang=zh", STAFF_DESKTOP, sign_in_as="lab"),
    Shot("reports-awaiting-release", "/reports/lab/awaiting-release?lang=zh", STAFF_DESKTOP, sign_in_as="doctor", full_page=False),
    Shot("admin-schedule", "/admin/schedule?lang=zh", STAFF_DESKTOP, sign_in_as=ADMIN, full_page=False),
    Shot("styleguide", "/styleguide?lang=zh", STAFF_DESKTOP, sign_in_as=ADMIN),

    Shot("consult-ask", "/consult/ask/{consult_patient}?lang=zh", sign_in_as=PATIENT),
    Shot("consult-thread", "/consult/{consultation}?lang=zh", sign_in_as=PATIENT),
    Shot("consult-thread-en", "/consult/{consultation}?lang=en", sign_in_as=PATIENT),
    Shot("consult-thread-elder", "/consult/{consultation}?lang=zh", sign_in_as=PATIENT, elder=True),
    Shot("consult-doctor", "/consult/{consultation}?lang=zh", DESKTOP, sign_in_as="doctor"),
]
# name, path of the PDF, who is signed in
PDFS: list[tuple[str, str, str]] = [
    ("receipt", "/billing/orders/{paid_order}/receipt.pdf", PATIENT),
    ("report-pdf", "/reports/{report}/pdf", PATIENT),
    ("patient-card", "/family/codes/{father}/card.pdf", PATIENT),
]
# fmt: on


def _config(database: Path) -> dict[str, Any]:
    return {
        "SECRET_KEY": "screenshots-only",
        "DATABASE_URL": f"sqlite:///{database}",
        "PUBLIC_URL": "http://127.0.0.1",
        "BILLING_SANDBOX_MAX_DELAY_S": 0,
        "BILLING_SANDBOX_DUPLICATE_RATE": 0.0,
        # Offers are sent at once whatever the hour the screens are rendered.
        "WAITLIST_QUIET_HOURS": "00:00-00:00",
    }


def _account_id(login: str) -> int:
    from hospital.accounts.models import Account
    from hospital.db import db

    found = db.session.scalar(
        sa.select(Account.id).where(sa.or_(Account.phone == login, Account.username == login))
    )
    assert found is not None, f"no demo account {login}"
    return found


def _orders(app: Any) -> dict[str, Any]:
    """A blood test order for the father to pay, and a paid one with its receipt."""
    from hospital.accounts.models import Account
    from hospital.billing.services import settlement
    from hospital.db import db, utcnow
    from hospital.organisation.models import Hospital
    from hospital.patients.models import FamilyLink, Patient
    from tests.support.billing_factories import (
        create_visit_order,
        sandbox,
        sandbox_notification,
        start_sandbox_payment,
    )

    with app.app_context():
        now = utcnow()
        hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == "DEMO"))
        patient_account = db.session.get(Account, _account_id(PATIENT))
        doctor = db.session.get(Account, _account_id("doctor"))
        people = {
            p.name: p
            for p in db.session.scalars(
                sa.select(Patient)
                .join(FamilyLink, FamilyLink.patient_id == Patient.id)
                .where(FamilyLink.account_id == patient_account.id)
            )
        }
        father, herself = people["李建华"], people["李梅"]
        pending = create_visit_order(hospital, father, staff=doctor, now=now, visit_key="shot:1")
        paid = create_visit_order(hospital, herself, staff=doctor, now=now, visit_key="shot:2")
        payment = start_sandbox_payment(paid, patient_account, now=now)
        sandbox().decide(payment.out_trade_no, "success", now=now)
        body, headers = sandbox_notification(payment, now=now)
        settlement.handle_notification("sandbox", headers, body, now=now)
        ids = {"pending_order": pending.id, "paid_order": paid.id, "father": father.id}
        db.session.commit()
    return ids


def _consultation(app: Any) -> dict[str, Any]:
    """The demo's answered question: 李梅 asked about her father's report (consult/demo.py)."""
    from consult.models import Consultation
    from hospital.db import db

    with app.app_context():
        found = db.session.scalars(sa.select(Consultation).order_by(Consultation.id)).first()
        assert found is not None, "the demo has an answered consultation"
        return {"consultation": found.id, "consult_patient": found.patient_id}


def _clinic(app: Any) -> dict[str, Any]:
    """Dr Wang's clinic now: 李梅 checked in with a ticket, walk-ins waiting, one called;
    her held time in his next session; her released blood test report."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from hospital.accounts.models import Account
    from hospital.db import db, utcnow
    from hospital.demo import DOCTOR_CLINICIAN
    from hospital.organisation.models import (
        Clinician,
        Department,
        Hospital,
        ServicePoint,
        ServicePointKind,
    )
    from hospital.patients.models import FamilyLink, Patient
    from hospital.visits.services import visit_of
    from queueing.models import Counter
    from queueing.services import calling, issuing
    from reports.models import ReportSource
    from reports.results import IncomingReport, ResultItem
    from reports.services import intake, release
    from scheduling.models import AppointmentState
    from tests.support.kiosk_factories import Clinic, book
    from tests.support.scheduling_factories import create_clinic_session

    with app.app_context():
        now = utcnow()
        hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == "DEMO"))
        zone = ZoneInfo(hospital.timezone)
        local = now.astimezone(zone)
        code, name = DOCTOR_CLINICIAN
        department = db.session.scalar(
            sa.select(Department).where(
                Department.hospital_id == hospital.id, Department.code == code
            )
        )
        clinician = db.session.scalar(
            sa.select(Clinician).where(
                Clinician.department_id == department.id, Clinician.name_zh == name
            )
        )
        room = db.session.scalars(
            sa.select(ServicePoint)
            .where(
                ServicePoint.department_id == department.id,
                ServicePoint.kind == ServicePointKind.CONSULTATION_ROOM,
            )
            .order_by(ServicePoint.id)
        ).first()
        counter = db.session.scalars(
            sa.select(Counter).where(Counter.service_point_id == room.id).order_by(Counter.id)
        ).first()
        patient_account = db.session.get(Account, _account_id(PATIENT))
        family = {
            p.name: p
            for p in db.session.scalars(
                sa.select(Patient)
                .join(FamilyLink, FamilyLink.patient_id == Patient.id)
                .where(FamilyLink.account_id == patient_account.id)
            )
        }
        herself = family["李梅"]
        # A session around now (whatever the hour), so that she can check in and be in line.
        start = max(0, local.hour * 60 + local.minute // 15 * 15 - 60)
        end = min(23 * 60 + 45, start + 180)
        today = create_clinic_session(
            clinician,
            local_date=local.date(),
            start=time(start // 60, start % 60),
            end=time(end // 60, end % 60),
            service_point_id=room.id,
            zone=hospital.timezone,
            release_at=now - timedelta(days=7),
        )
        booked = book(Clinic(department, clinician, room, today), herself, now=now)
        others = db.session.scalars(
            sa.select(Patient)
            .where(
                Patient.hospital_id == hospital.id,
                Patient.id.not_in([p.id for p in family.values()]),
            )
            .order_by(Patient.id)
            .limit(4)
        ).all()
        for other in others[:2]:
            issuing.issue_walk_in(
                actor=None,
                hospital_id=hospital.id,
                service_point_id=room.id,
                now=now - timedelta(minutes=20),
                patient_id=other.id,
            )
        ticket, _new = issuing.check_in(
            actor=None, hospital_id=hospital.id, appointment_id=booked.id, now=now
        )
        for other in others[2:]:
            issuing.issue_walk_in(
                actor=None,
                hospital_id=hospital.id,
                service_point_id=room.id,
                now=now,
                patient_id=other.id,
            )
        calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=now)
        later = create_clinic_session(
            clinician,
            local_date=local.date() + timedelta(days=2),
            start=time(8),
            end=time(11, 30),
            capacity=2,
            service_point_id=room.id,
            zone=hospital.timezone,
            release_at=now - timedelta(days=7),
        )
        held = book(
            Clinic(department, clinician, room, later),
            herself,
            now=now,
            state=AppointmentState.HELD,
        )
        held.hold_expires_at = now + timedelta(minutes=9, seconds=30)
        lab = db.session.get(Account, _account_id("lab"))
        (report,) = intake.receive_results(
            hospital,
            [
                IncomingReport(
                    medical_record_number=herself.medical_record_number,
                    test_code="GLU",
                    test_name="空腹血糖",
                    signed_by="唐志刚",
                    items=[
                        ResultItem(
                            name="葡萄糖 Glucose",
                            value="7.9",
                            unit="mmol/L",
                            reference_range="3.9-6.1",
                            flag="high",
                        ),
                        ResultItem(
                            name="糖化血红蛋白 HbA1c",
                            value="5.6",
                            unit="%",
                            reference_range="4-6",
                            flag="normal",
                        ),
                    ],
                )
            ],
            source=ReportSource.STAFF,
            now=now,
            actor=lab,
        )
        release.release(report, now=now)
        visit = visit_of(hospital.id, herself.id, local.date())
        assert visit is not None, "her check-in started today's visit"
        ids = {
            "visit_code": visit.code,
            "department": department.id,
            "clinician": clinician.id,
            "counter": counter.id,
            "room_code": room.code,
            "ticket_token": ticket.token,
            "future_session": later.id,
            "held_appointment": held.id,
            "report": report.public_id,
        }
        db.session.commit()
    return ids


def _waitlist(app: Any) -> dict[str, Any]:
    """Two sold-out sessions of Dr Wang: 李梅 may join one; her father waits on the other and,
    when a place there is cancelled, it is offered to him (she answers for him)."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from hospital.accounts.models import Account
    from hospital.db import db, utcnow
    from hospital.demo import DOCTOR_CLINICIAN
    from hospital.organisation.models import Clinician, Department, Hospital
    from hospital.patients.models import FamilyLink, Patient
    from scheduling.models import WaitlistOffer
    from scheduling.services import booking, changes, waitlist
    from tests.support.scheduling_factories import create_clinic_session, slots_of

    with app.app_context():
        now = utcnow()
        hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == "DEMO"))
        local = now.astimezone(ZoneInfo(hospital.timezone))
        code, name = DOCTOR_CLINICIAN
        department = db.session.scalar(
            sa.select(Department).where(
                Department.hospital_id == hospital.id, Department.code == code
            )
        )
        clinician = db.session.scalar(
            sa.select(Clinician).where(
                Clinician.department_id == department.id, Clinician.name_zh == name
            )
        )
        desk = db.session.get_one(Account, _account_id("registrar"))
        account = db.session.get_one(Account, _account_id(PATIENT))
        family = {
            p.id
            for p in db.session.scalars(
                sa.select(Patient)
                .join(FamilyLink, FamilyLink.patient_id == Patient.id)
                .where(FamilyLink.account_id == account.id)
            )
        }
        father = db.session.scalar(
            sa.select(Patient)
            .join(FamilyLink, FamilyLink.patient_id == Patient.id)
            .where(FamilyLink.account_id == account.id, Patient.name == "李建华")
        )
        others = db.session.scalars(
            sa.select(Patient)
            .where(Patient.hospital_id == hospital.id, Patient.id.not_in(family))
            .order_by(Patient.id)
            .offset(4)
            .limit(4)
        ).all()
        sessions = []
        booked = []
        for days, who in ((3, others[:2]), (4, others[2:])):
            session = create_clinic_session(
                clinician,
                local_date=local.date() + timedelta(days=days),
                start=time(14),
                end=time(14, 30),
                zone=hospital.timezone,
                release_at=now - timedelta(days=7),
            )
            for slot, patient in zip(slots_of(session), who, strict=True):
                held = booking.hold(actor=desk, patient_id=patient.id, slot_id=slot.id, now=now)
                booked.append(booking.confirm(held.id, actor=desk, now=now))
            sessions.append(session)
        waitlist.join(actor=account, patient_id=father.id, session_id=sessions[1].id, now=now)
        changes.cancel(booked[-1].id, actor=desk, now=now, reason="患者改期")
        offer = db.session.scalar(sa.select(WaitlistOffer))
        assert offer is not None
        ids = {"sold_out_session": sessions[0].id, "waitlist_offer": offer.id}
        db.session.commit()
    return ids


def _signed_in(app: Any, url: str, login: str) -> dict[str, Any]:
    from hospital.accounts.models import Account
    from hospital.accounts.sessions import open_session
    from hospital.db import db, utcnow

    with app.app_context():
        token = open_session(db.session.get(Account, _account_id(login)), now=utcnow())
        db.session.commit()
    return session_cookie(app, url, {"_user_id": token, "_fresh": True})


def render(outdir: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from hospital.app import create_app
    from hospital.db import db
    from hospital.web.catalogues import compile_all

    compile_all()  # the pages in Chinese come from the current catalogues
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(_config(Path(tmp) / "screens.db"))
        with app.app_context():
            db.create_all()
        seeded = app.test_cli_runner().invoke(args=["seed-demo"])
        if seeded.exit_code != 0:
            raise SystemExit(f"seed-demo failed:\n{seeded.output}{seeded.exception!r}")
        ids = {**_orders(app), **_clinic(app), **_waitlist(app), **_consultation(app)}

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for shot in SHOTS:
                    width, height = shot.viewport
                    context = browser.new_context(
                        base_url=url,
                        viewport={"width": width, "height": height},
                        locale="zh-CN",
                        device_scale_factor=1,
                        reduced_motion="reduce",
                    )
                    # The language comes from ?lang= in the address; elder mode from its cookie.
                    cookies = [
                        c
                        for c in preference_cookies(url, lang="zh", elder=shot.elder)
                        if c["name"] == ELDER_COOKIE
                    ]
                    if shot.sign_in_as == KIOSK_DEVICE:
                        cookies.append({"name": "device_token", "value": KIOSK_TOKEN, "url": url})
                    elif shot.sign_in_as:
                        cookies.append(_signed_in(app, url, shot.sign_in_as))
                    context.add_cookies(cookies)
                    page = context.new_page()
                    response = page.goto(shot.url.format(**ids))
                    if response is None or not response.ok:
                        raise SystemExit(
                            f"{shot.name}: {shot.url} answered {response and response.status}"
                        )
                    if shot.ready:
                        page.wait_for_selector(shot.ready)
                        page.wait_for_timeout(300)  # let the last frame paint
                    else:
                        page.wait_for_load_state("networkidle")
                    if shot.click:
                        steps = (shot.click,) if isinstance(shot.click, str) else shot.click
                        for selector in steps:
                            if selector.startswith("fill:"):
                                box, _, text = selector[len("fill:") :].partition("=")
                                page.fill(box, text)
                            else:
                                page.click(selector)
                        if shot.shown:
                            page.wait_for_selector(shot.shown)
                        page.wait_for_timeout(300)
                    target = outdir / f"{shot.name}.png"
                    page.screenshot(path=str(target), full_page=shot.full_page)
                    written.append(target)
                    context.close()
                for name, path, login in PDFS:
                    context = browser.new_context(base_url=url)
                    context.add_cookies([_signed_in(app, url, login)])
                    response = context.request.get(path.format(**ids))
                    if not response.ok:
                        raise SystemExit(f"{name}: {path} answered {response.status}")
                    pdf = Path(tmp) / f"{name}.pdf"
                    pdf.write_bytes(response.body())
                    subprocess.run(
                        [
                            "pdftoppm",
                            "-png",
                            "-r",
                            "80",
                            "-singlefile",
                            str(pdf),
                            str(outdir / name),
                        ],
                        check=True,
                    )
                    written.append(outdir / f"{name}.png")
                    context.close()
                browser.close()
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            with app.app_context():
                db.engine.dispose()
    return written


def main(argv: list[str]) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    outdir = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "screenshots"
    for path in render(outdir):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main(sys.argv)
