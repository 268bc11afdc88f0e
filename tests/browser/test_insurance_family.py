"""The daughter shows her father's medical-insurance code and pays his order from her balance.

家庭共济 in the browser, in Chinese and English: the insurance page shows the father's code as a
QR code, and paying his order with the code splits it between his own account and hers.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from hospital.accounts.models import Account
from hospital.billing.models import ItemCategory
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from tests.browser.a11y import preference_cookies, session_cookie

pytestmark = pytest.mark.browser

_numbers = itertools.count(1)


def _family_with_an_order(live_server: Any) -> dict[str, Any]:
    from hospital.accounts.sessions import open_session
    from tests.support.billing_factories import create_visit_order
    from tests.support.insurance_factories import create_family, set_balance, share

    n = next(_numbers)
    app = live_server.app
    with app.app_context():
        hospital = db.session.get_one(Hospital, live_server.hospital_id)
        # a range of its own: the live server is shared
        daughter, _me, father, _registrar = create_family(
            hospital, daughter_phone=f"1398800{n:04d}", activate=True
        )
        set_balance(father.id, 1000)  # ¥10 in his own account
        grant = share(daughter, father, per_payment_fen=3000, monthly_fen=5000)
        # ¥40 registration (not covered): ¥10 his account, ¥30 hers, nothing left in cash
        order = create_visit_order(
            hospital,
            father,
            prices=((4000, ItemCategory.REGISTRATION),),
            now=utcnow(),
            visit_key=f"insurance-family:{n}",
        )
        token = open_session(db.session.get_one(Account, daughter.id), now=utcnow())
        db.session.commit()
        return {
            "father": father.id,
            "order": order.id,
            "grant": grant.id,
            "cookie": session_cookie(app, live_server.url, {"_user_id": token, "_fresh": True}),
        }


@pytest.mark.parametrize(
    ("lang", "paid_with", "own_label", "family_label"),
    [
        ("zh", "医保码", "本人医保账户支付", "家人医保账户支付"),
        ("en", "insurance code", "Own insurance account pays", "Family insurance account pays"),
    ],
)
def test_the_daughter_shows_her_fathers_code_and_pays_from_her_balance(
    page: Any, live_server: Any, lang: str, paid_with: str, own_label: str, family_label: str
) -> None:
    world = _family_with_an_order(live_server)
    page.context.add_cookies(
        [*preference_cookies(live_server.url, lang=lang, elder=False), world["cookie"]]
    )
    page.goto(f"/billing/insurance/?patient={world['father']}")
    code = page.locator("[data-insurance-code]")
    code.wait_for()
    assert code.locator("svg").is_visible()
    assert (code.get_attribute("data-insurance-code") or "").startswith("YB")
    assert page.locator(f'[data-person="{world["father"]}"][aria-current="page"]').count() == 1

    page.goto(f"/billing/orders/{world['order']}/pay")
    page.check(f'[data-family-grant="{world["grant"]}"]')
    page.click("[data-action=insurance-code]")
    page.wait_for_selector('[data-account="family"]')
    totals = page.inner_text("dl.totals")
    assert own_label in totals and family_label in totals
    assert page.inner_text('[data-account="personal"]').endswith("10.00")
    assert page.inner_text('[data-account="family"]').endswith("30.00")
    assert page.inner_text("[data-self-pay]").endswith("0.00")
    assert paid_with in page.inner_text("body")
