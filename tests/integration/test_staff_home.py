"""Staff land on their work: a home per role, and the same links in a bar on every page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hospital.accounts.models import Role
from tests.support.auth import sign_in

# What each role must find on its home (by the page's address), and what it must not.
EXPECTED = {
    Role.REGISTRAR: ({"/queueing/desk", "/staff/day", "/staff/suspensions"}, {"/billing/cashier"}),
    Role.NURSE: ({"/queueing/console", "/staff/day"}, {"/queueing/desk", "/admin/schedule"}),
    Role.CLINICIAN: (
        {
            "/queueing/console",
            "/staff/day",
            "/reports/lab/awaiting-release",
            "/staff/consult/settings",
        },
        {"/billing/cashier", "/reports/lab/new"},  # intake is the lab's (a 403 for a doctor)
    ),
    Role.LAB: ({"/reports/lab/new", "/queueing/console"}, {"/staff/day"}),
    Role.CASHIER: ({"/billing/cashier", "/billing/cashier/reconciliation"}, {"/staff/day"}),
    Role.ADMIN: (
        {
            "/admin/schedule",
            "/kiosk/console",
            "/reports/statistics",
            "/billing/cashier",
            "/styleguide",
            "/staff/consult/settings",
        },
        set(),
    ),
}


def _links(html: str, marker: str) -> set[str]:
    return set(re.findall(rf'<a [^>]*href="([^"?]+)"[^>]*{marker}', html))


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: r.value)
def test_each_role_lands_on_its_work(
    client: Any, hospital: Any, create_account: Any, role: Role
) -> None:
    sign_in(client, create_account(hospital, roles=(role,)))
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "data-staff-home" in html and "Today's work" in html
    assert 'data-action="tile-patients_pages.family"' not in html  # not the patient tiles
    wanted, unwanted = EXPECTED[role]
    on_home = _links(html, 'data-action="staff-')
    assert wanted <= on_home, wanted - on_home
    assert not unwanted & on_home
    # The same links in the bar of another page, the current one marked.
    page = next(iter(sorted(wanted)))
    other = client.get(f"{page}?lang=en").get_data(as_text=True)
    assert wanted <= _links(other, "data-nav=")
    assert re.search(rf'href="{re.escape(page)}" aria-current="page"', other)


def test_patients_keep_their_home_and_see_no_staff_bar(
    client: Any, hospital: Any, create_account: Any
) -> None:
    sign_in(client, create_account(hospital))
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "data-staff-home" not in html and 'class="staff-nav"' not in html
    assert 'data-action="tile-scheduling_pages.book"' in html


def test_staff_land_on_their_home_after_signing_in(
    client: Any, hospital: Any, create_account: Any
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,), password="Nurse-pass-2026")
    signed_in = client.post(
        "/sign-in/password", data={"login": nurse.username, "password": "Nurse-pass-2026"}
    )
    assert signed_in.headers["Location"] == "/"
    assert "data-staff-home" in client.get("/").get_data(as_text=True)


def test_the_styleguide_shows_every_component_in_both_languages_and_elder_mode(
    client: Any, hospital: Any, create_account: Any
) -> None:
    sign_in(client, create_account(hospital, roles=(Role.NURSE,)))
    response = client.get("/styleguide?lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for sample, lang in (("zh", "zh-Hans"), ("en", "en"), ("elder", "en")):
        assert f'data-sample="{sample}"' in html
        assert re.search(rf'id="sample-{sample}" lang="{lang}"', html), sample
    assert re.search(r'class="panel elder" id="sample-elder"', html)
    for component in ("buttons", "form", "card", "table", "tab-bar", "keypad", "display-number"):
        assert html.count(f'data-component="{component}"') == 3, component
    assert "叫下一位" in html and "Call next" in html  # the Chinese and the English sample
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "ids are unique across the three samples"


def test_the_styleguide_is_for_staff_only(client: Any, hospital: Any, create_account: Any) -> None:
    assert client.get("/styleguide").status_code == 302  # to the sign-in page
    sign_in(client, create_account(hospital))
    assert client.get("/styleguide").status_code == 403
