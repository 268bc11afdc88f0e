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
    or a key of world["accounts"] (that account is signed in).
    """

    name: str
    path: str
    who: str | None = None
    # The page's primary form or action, which must be there with JavaScript off.
    primary: str = "main form"
    patient_page: bool = True

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
]
# fmt: on
LANGUAGES = ("zh", "en")


def screen_params(*, patient_only: bool = False) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in SCREENS if s.patient_page or not patient_only]


# ---- the rows the pages show -----------------------------------------------------------------


def _paid_order(hospital: Hospital, account: Account, patient: Any, staff: Account) -> int:
    from hospital.billing import service
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
    service.handle_notification("sandbox", headers, body, now=now)
    return order.id


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
        world = {
            "hospital_id": hospital_id,
            "accounts": {"patient": patient_account.id, "cashier": cashier.id},
            "logins": {"patient": patient_account.phone, "cashier": cashier.username},
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
        if screen.who is not None:
            data = session_for(live_server.app, a11y_world, screen.who)
            cookies.append(session_cookie(live_server.app, live_server.url, data))
        page.context.add_cookies(cookies)
        response = page.goto(screen.url(a11y_world))
        assert response is not None and response.ok, (
            f"{screen.name}: HTTP {response and response.status}"
        )
        return response

    yield open_screen


# ---- axe-core ---------------------------------------------------------------------------------


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict[str, Any]]:
    """Run axe-core on the page with the WCAG 2.x A/AA rules; the violations of those impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
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
