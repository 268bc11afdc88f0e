"""What every page shares: the layout, the error page, local times and bilingual names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, render_template_string
from flask_babel import refresh

from hospital.db import db
from hospital.web.tiles import Tile, add_home_tile, home_tiles


def test_the_layout_has_landmarks_a_skip_link_and_the_switches(client: Any, hospital: Any) -> None:
    html = client.get("/?lang=en").get_data(as_text=True)

    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert "<footer" in html
    assert f"<span>{hospital.name_en}</span>" in html
    assert 'data-switch="lang-zh"' in html and 'data-switch="lang-en"' in html
    assert 'data-switch="elder"' in html
    assert "//" not in html.split("<body", 1)[0].replace("http://", "").replace("https://", ""), (
        "no protocol-relative (off-site) assets in <head>"
    )


def test_static_assets_are_served_from_our_own_address(client: Any, hospital: Any) -> None:
    for path in ("/assets/css/hospital.css", "/assets/js/hospital.js", "/assets/img/icon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_an_unknown_address_shows_the_error_page_in_the_layout(client: Any, hospital: Any) -> None:
    db.session.commit()
    response = client.get("/no-such-page?lang=en", headers={"Accept": "text/html"})

    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in html
    assert 'data-error-code="not_found"' in html
    assert '<main id="main"' in html


def test_the_error_page_renders_with_no_hospital_set_up(client: Any, db_session: Any) -> None:
    response = client.get("/no-such-page?lang=zh")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_times_are_shown_in_the_hospitals_zone(app: Flask, create_hospital: Any) -> None:
    create_hospital(timezone="America/New_York")
    moment = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    with app.test_request_context("/"):
        shown = render_template_string("{{ moment | local_time }}", moment=moment)
        hour = render_template_string("{{ moment | local_time('%H:%M') }}", moment=moment)
    assert shown == "2026-07-01 08:30"
    assert hour == "08:30"


def test_localized_picks_the_pages_language_and_falls_back(app: Flask, hospital: Any) -> None:
    class Named:
        name_zh = "内科"
        name_en = ""

    with app.test_request_context("/?lang=en"):
        refresh()
        template = "{{ localized(hospital, 'name') }}|{{ localized(named, 'name') }}"
        assert render_template_string(template, named=Named()) == f"{hospital.name_en}|内科"
    with app.test_request_context("/?lang=zh"):
        refresh()  # the locale is cached on the test's app context; a real request refreshes it
        assert render_template_string("{{ localized(hospital, 'name') }}") == hospital.name_zh


def test_modules_add_tiles_to_the_home_page(client: Any, hospital: Any) -> None:
    add_home_tile(Tile("web.healthz", "Check the health", "For the test", order=1))
    try:
        html = client.get("/").get_data(as_text=True)
        assert "Check the health" in html
        assert html.index("Check the health") < html.index('href="/family"')
    finally:
        from hospital.web.tiles import HOME_TILES

        HOME_TILES.remove("web.healthz")
    assert all(t.endpoint != "web.healthz" for t in home_tiles(signed_in=True))


def test_a_page_that_needs_sign_in_offers_the_sign_in_link(app: Flask, db_session: Any) -> None:
    from hospital.accounts.guards import require_signed_in
    from hospital.app import create_app
    from tests.conftest import TEST_CONFIG

    probe = create_app({**TEST_CONFIG, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    probe.add_url_rule("/probe/needs-sign-in", "probe", require_signed_in(lambda: "secret"))

    response = probe.test_client().get("/probe/needs-sign-in?lang=en")

    assert response.status_code == 401
    assert 'href="/sign-in?next=/probe/needs-sign-in"' in response.get_data(as_text=True)
