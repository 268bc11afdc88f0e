"""What the accessibility, keyboard and page-weight checks share: the pages, who sees them, axe.

Every page type is one line in SCREENS: a name, a path (formatted with the ids of the rows the
`a11y_world` fixture creates) and who is signed in. A module adding pages adds lines there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from hospital.accounts.models import Account, Role
from hospital.accounts.sessions import open_session
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import Relationship
from hospital.web.i18n import ELDER_COOKIE, LANGUAGE_COOKIE
from tests.support import factories

AXE_VERSION = "4.14.1"
AXE_SCRIPT = Path(__file__).parent / "vendor" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
BLOCKING_IMPACTS = ("serious", "critical")
PASSWORD = "a11y-Passw0rd"


@dataclass(frozen=True)
class Screen:
    """One page type: where it is and who sees it.

    who: None (nobody signed in), "code-sent" (a code was just texted to world["code_phone"]),
    "kiosk" (the browser is a paired kiosk), or a key of world["accounts"] (signed in).
    """

    name: str
    path: str
    who: str | None = None
    # The page's primary form or action, which must be there with JavaScript off.
    primary: str = "main form"
    patient_page: bool = True
    # On pages that draw themselves from the API: what is there once they have.
    ready: str | None = None

    def url(self, world: dict[str, Any]) -> str:
        return self.path.format(**world)


# fmt: off
SCREENS: list[Screen] = [
    Screen("home", "/", primary="main .tiles a"),
    Screen("sign-in", "/sign-in", primary="form[data-form=send-code]"),
    Screen("sign-in-code", "/sign-in/code", "code-sent", primary="form[data-form=verify-code]"),
    Screen("sign-in-password", "/sign-in/password", primary="form[data-form=password]"),
    Screen("family", "/family", "patient", primary="[data-action=add-member]"),
    Screen("family-add", "/family/add", "patient", primary="form [data-action=save-member]"),
    Screen("billing-orders", "/billing/orders", "patient", primary="[data-orders] .button"),
    Screen("billing-pay", "/billing/orders/{pending_order}/pay", "patient", primary="[data-action=pay]"),
    Screen("billing-result", "/billing/orders/{paid_order}/result", "patient", primary="[data-result=paid]"),
    Screen("billing-sandbox-checkout", "/billing/sandbox/checkout/{checkout}", primary="[data-outcome=success]", patient_page=False),
    Screen("billing-cashier", "/billing/cashier", "cashier", primary="main form", patient_page=False),
    Screen("billing-reconciliation", "/billing/cashier/reconciliation", "cashier", primary="main .button", patient_page=False),
    Screen("book", "/book", "patient", primary="main a[href*='/book/departments/']"),
    Screen("book-department-days", "/book/departments/{department}", "patient", primary="main a[href*='/book/sessions/']"),
    Screen("book-session-slots", "/book/sessions/{future_session}", "patient", primary="main form"),
    Screen("book-confirm", "/appointments/{held_appointment}/confirm", "patient", primary="main form"),
    Screen("my-appointments", "/appointments", "patient", primary="main a, main form"),
    Screen("my-tickets", "/tickets", "patient", primary="main a[href*='/q/']"),
    Screen("ticket", "/q/{ticket_token}", primary="main", patient_page=False, ready="#q-ahead[data-ahead]"),
    Screen("reports-inbox", "/reports/", "patient", primary="main a[href*='/reports/']"),
    Screen("visit", "/visits/{visit_code}", "patient", primary="#v-next", ready="#v-next"),
    Screen("visit-desk", "/visits/desk?q={visit_code}", "admin", patient_page=False),
    Screen("report", "/reports/{report}", "patient", primary="main a[href*='/pdf']"),
    Screen("staff-day", "/staff/day?clinician_id={clinician}", "admin", patient_page=False),
    Screen("admin-schedule", "/admin/schedule", "admin", patient_page=False),
    Screen("queue-console", "/queueing/console/{counter}", "admin", patient_page=False, ready="#q-waiting tr"),
    Screen("queue-board", "/queueing/board?department={department}", patient_page=False, ready="#q-next .q-row"),
    Screen("queue-desk", "/queueing/desk", "admin", patient_page=False, primary="main form"),
    Screen("lab-entry", "/reports/lab/new", "lab", patient_page=False),
    Screen("report-statistics", "/reports/statistics", "admin", patient_page=False),
    Screen("kiosk-setup", "/kiosk/setup", patient_page=False),
    Screen("kiosk", "/kiosk", "kiosk", patient_page=False, ready='[data-screen="start"]:not([hidden])'),
    Screen("kiosk-console", "/kiosk/console", "admin", patient_page=False),
    Screen("guide-ask", "/guide/ask?q=孩子发烧咳嗽", "patient", primary="main form[data-guide-ask]"),
    Screen("guide-route", "/guide/route?to_point=NOWHERE", primary="main [data-no-route]"),
    Screen("family-codes", "/family/codes", "patient", primary="main [data-people] a"),
    Screen("guide-lexicon", "/staff/guide/lexicon?try=胸痛", "admin", primary="main form[data-entry-form]", patient_page=False),
    Screen("guide-map", "/staff/guide/map", "admin", primary="main form[data-map-form]", patient_page=False),
    Screen("styleguide", "/styleguide", "admin", primary="main [data-component=buttons] .button", patient_page=False),
    Screen("staff-home", "/", "admin", primary="main [data-staff-home] a", patient_page=False),
    Screen("reports-awaiting-release", "/reports/lab/awaiting-release", "admin", primary="main h1", patient_page=False),
]
# fmt: on
LANGUAGES = ("zh", "en")


def screen_params(*, patient_only: bool = False) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in SCREENS if s.patient_page or not patient_only]


# ---- the rows the pages show -----------------------------------------------------------------


def _paid_order(hospital: Hospital, account: Account, patient: Any, staff: Account) -> int:
    from hospital.billing.services import settlement
    from tests.support.billing_factories import (
        create_visit_order,
        sandbox,
        sandbox_notification,
        start_sandbox_payment,
    )

    now = utcnow()
    order = create_visit_order(hospital, patient, staff=staff, now=now, visit_key="a11y:paid")
    payment = start_sandbox_payment(order, account, now=now)
    sandbox().decide(payment.out_trade_no, "success", now=now)
    body, headers = sandbox_notification(payment, now=now)
    settlement.handle_notification("sandbox", headers, body, now=now)
    return order.id


def _clinic_world(
    hospital: Hospital, patient: Any, parent: Any, lab: Account, *, now: Any
) -> dict[str, Any]:
    """Today's clinic with a queue (her ticket, walk-ins), a bookable session, a report, a kiosk."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from queueing.services import issuing
    from reports.models import ReportSource
    from reports.results import IncomingReport, ResultItem
    from reports.services import intake, release
    from scheduling.models import AppointmentState
    from tests.support.kiosk_factories import Clinic, book, create_clinic, create_kiosk
    from tests.support.queueing_factories import create_counter, open_queue, walk_in
    from tests.support.scheduling_factories import create_clinic_session

    today = create_clinic(
        hospital, now=now, name_zh="心内科", name_en="Cardiology", sort_order=-2000
    )
    open_queue(today.point, now=now)
    counter = create_counter(today.point, code="3")
    booked = book(today, patient, now=now)
    ticket, _new = issuing.check_in(
        actor=None, hospital_id=hospital.id, appointment_id=booked.id, now=now
    )
    from hospital.visits.services import hospital_day, visit_of

    visit = visit_of(hospital.id, patient.id, hospital_day(hospital.id, now))
    assert visit is not None, "her check-in started today's visit"
    walk_in(hospital, today.point, now=now)
    walk_in(hospital, today.point, now=now)
    local_today = now.astimezone(ZoneInfo(hospital.timezone)).date()
    future = create_clinic_session(
        today.clinician,
        local_date=local_today + timedelta(days=2),
        start=time(8),
        end=time(11),
        capacity=3,
        service_point_id=today.point.id,
        zone=hospital.timezone,
        release_at=now - timedelta(days=7),
    )
    later = Clinic(today.department, today.clinician, today.point, future)
    held = book(later, patient, now=now, state=AppointmentState.HELD)
    # The confirm page shows a live hold for as long as the browser tests run.
    held.hold_expires_at = now + timedelta(hours=12)
    book(later, parent, now=now)
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
                        name="葡萄糖",
                        value="7.9",
                        unit="mmol/L",
                        reference_range="3.9-6.1",
                        flag="high",
                    ),
                    ResultItem(
                        name="糖化血红蛋白",
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
    _device, kiosk_token = create_kiosk(hospital, now=now)
    return {
        "department": today.department.id,
        "clinician": today.clinician.id,
        "future_session": future.id,
        "held_appointment": held.id,
        "ticket_token": ticket.token,
        "visit_code": visit.code,
        "counter": counter.id,
        "report": report.public_id,
        "kiosk_token": kiosk_token,
    }


def build_world(app: Flask, hospital_id: int) -> dict[str, Any]:
    """A patient with an elderly parent, their orders (to pay, paying, paid) and a cashier."""
    from tests.support.billing_factories import create_visit_order, start_sandbox_payment

    with app.app_context():
        hospital = db.session.get(Hospital, hospital_id)
        assert hospital is not None
        now = utcnow()
        patient_account = factories.create_account(
            hospital, password=PASSWORD, display_name="李梅", phone="13911110001"
        )
        self_patient = factories.create_patient(hospital, account=patient_account, name="李梅")
        parent = factories.create_patient(
            hospital, account=patient_account, relationship=Relationship.PARENT, name="李建华"
        )
        cashier = factories.create_account(
            hospital, roles=(Role.CASHIER,), password=PASSWORD, display_name="收费员"
        )
        clinician = factories.create_account(hospital, roles=(Role.CLINICIAN,))
        pending = create_visit_order(
            hospital, parent, staff=clinician, now=now, visit_key="a11y:pending"
        )
        paying = create_visit_order(
            hospital, self_patient, staff=clinician, now=now, visit_key="a11y:paying"
        )
        checkout = start_sandbox_payment(paying, patient_account, now=now).out_trade_no
        paid = _paid_order(hospital, patient_account, parent, clinician)
        admin = factories.create_account(
            hospital, roles=(Role.ADMIN,), password=PASSWORD, display_name="管理员"
        )
        lab = factories.create_account(
            hospital, roles=(Role.LAB,), password=PASSWORD, display_name="检验科"
        )
        clinic = _clinic_world(hospital, self_patient, parent, lab, now=now)
        world = {
            "hospital_id": hospital_id,
            "accounts": {
                "patient": patient_account.id,
                "cashier": cashier.id,
                "admin": admin.id,
                "lab": lab.id,
            },
            "logins": {"patient": patient_account.phone, "cashier": cashier.username},
            **clinic,
            "pending_order": pending.id,
            "paid_order": paid,
            "checkout": checkout,
            "code_phone": "13911119999",
        }
        db.session.commit()
    return world


def session_cookie(app: Flask, base_url: str, data: dict[str, Any]) -> dict[str, Any]:
    """The Flask session cookie holding data, signed as the application signs it."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return {
        "name": app.config["SESSION_COOKIE_NAME"],
        "value": serializer.dumps(data),
        "url": base_url,
    }


def session_for(app: Flask, world: dict[str, Any], who: str) -> dict[str, Any]:
    """What the session holds for who: the phone a code went to, or a signed-in account."""
    if who == "code-sent":
        return {"sign_in_phone": world["code_phone"]}
    with app.app_context():
        account = db.session.get(Account, world["accounts"][who])
        assert account is not None
        token = open_session(account, now=utcnow())
        db.session.commit()
    # What flask-login keeps after a sign-in (as tests/support/auth.py:sign_in does).
    return {"_user_id": token, "_fresh": True}


def kiosk_cookie(base_url: str, world: dict[str, Any]) -> dict[str, Any]:
    """The cookie /kiosk/setup sets on a paired kiosk: its device token."""
    return {"name": "device_token", "value": world["kiosk_token"], "url": base_url}


def preference_cookies(base_url: str, *, lang: str, elder: bool) -> list[dict[str, Any]]:
    return [
        {"name": LANGUAGE_COOKIE, "value": lang, "url": base_url},
        {"name": ELDER_COOKIE, "value": "1" if elder else "0", "url": base_url},
    ]


def close_bodies_on_dropped_connections(wsgi_app: Any) -> Any:
    """Close every response body, even when the browser drops the connection mid-response.

    Werkzeug's development server closes the body only after draining the socket; when the
    browser has reset the connection (a favicon cut short by the next page), that read raises
    and the body, an open static file, is left to the garbage collector: a ResourceWarning,
    which `filterwarnings = error` turns into a random test error. A generator closes the body
    in its own `finally`, which also runs when the abandoned generator is collected.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        body = wsgi_app(environ, start_response)
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    app.closes_bodies = True  # type: ignore[attr-defined]
    return app


# Test modules import these by their function names; tests ask for them by the fixture names.
@pytest.fixture(name="a11y_world", scope="session")
def a11y_world_fixture(live_server: Any) -> dict[str, Any]:
    # Each importing module holds its own copy of this fixture: build the rows only once.
    if "a11y" not in live_server.seeded:
        if not getattr(live_server.app.wsgi_app, "closes_bodies", False):
            live_server.app.wsgi_app = close_bodies_on_dropped_connections(live_server.app.wsgi_app)
        live_server.seeded["a11y"] = build_world(live_server.app, live_server.hospital_id)
    return live_server.seeded["a11y"]


@pytest.fixture(name="visit")
def visit_fixture(page: Any, live_server: Any, a11y_world: dict[str, Any]) -> Iterator[Any]:
    """visit(screen, lang=, elder=): open the screen as its person, in that language and mode."""

    def open_screen(screen: Screen, *, lang: str = "zh", elder: bool = False) -> Any:
        cookies = preference_cookies(live_server.url, lang=lang, elder=elder)
        if screen.who == "kiosk":
            cookies.append(kiosk_cookie(live_server.url, a11y_world))
        elif screen.who is not None:
            data = session_for(live_server.app, a11y_world, screen.who)
            cookies.append(session_cookie(live_server.app, live_server.url, data))
        page.context.add_cookies(cookies)
        response = page.goto(screen.url(a11y_world))
        assert response is not None and response.ok, (
            f"{screen.name}: HTTP {response and response.status}"
        )
        if screen.ready:
            page.wait_for_selector(screen.ready)
        return response

    yield open_screen


# ---- axe-core ---------------------------------------------------------------------------------


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """Run axe-core on the page with the WCAG 2.x A/AA rules; the violations of those impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through DevTools, not as a <script> tag: the page's CSP refuses inline scripts.
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;0")
    results = page.evaluate(
        """(tags) => axe.run(document, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
        })""",
        WCAG_TAGS,
    )
    return [v for v in results["violations"] if v.get("impact") in impacts]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One paragraph per rule: impact, rule, help, and each offending element with its reason."""
    lines: list[str] = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            target = " ".join(
                json.dumps(t) if not isinstance(t, str) else t for t in node["target"]
            )
            lines.append(f"    at {target}")
            lines.append(f"       {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " / ")
            if summary:
                lines.append(f"       {summary[:300]}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more")
    return "\n".join(lines)
