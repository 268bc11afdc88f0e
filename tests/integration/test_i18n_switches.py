"""Language and elder mode: chosen by the visitor, remembered in a cookie and on the account."""

from __future__ import annotations

from typing import Any

from hospital.accounts.models import Account, Language
from hospital.db import db
from tests.support.auth import sign_in


def _cookie(response: Any, name: str) -> str | None:
    for header in response.headers.get_all("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def test_the_language_follows_query_then_cookie_then_accept_language(
    client: Any, hospital: Any
) -> None:
    assert '<html lang="zh-Hans">' in client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in client.get(
        "/", headers={"Accept-Language": "en-GB,en;q=0.9"}
    ).get_data(as_text=True)
    client.set_cookie("lang", "en")
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True
    )
    assert '<html lang="zh-Hans">' in client.get("/?lang=zh").get_data(as_text=True)


def test_switching_language_sets_the_cookie_and_returns_to_the_page(
    client: Any, hospital: Any
) -> None:
    response = client.post("/language/en", data={"next": "/sign-in?lang=zh&next=/family"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Ffamily"
    assert _cookie(response, "lang") == "en"
    page = client.get("/sign-in")
    assert "Send code" in page.get_data(as_text=True)


def test_switching_language_while_signed_in_saves_it_on_the_account(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, language=Language.ZH)
    sign_in(client, account)
    db.session.commit()

    response = client.post("/language/en", data={"next": "/family"})

    assert _cookie(response, "lang") == "en"
    db.session.expire_all()
    assert db.session.get(Account, account.id).language == Language.EN


def test_the_accounts_language_is_used_without_a_cookie(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, language=Language.EN)
    sign_in(client, account)

    html = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)

    assert '<html lang="en">' in html


def test_an_unknown_language_is_not_found_and_sets_nothing(client: Any, hospital: Any) -> None:
    db.session.commit()
    response = client.post("/language/fr")
    assert response.status_code == 404
    assert _cookie(response, "lang") is None


def test_next_of_a_switch_cannot_leave_the_site(client: Any, hospital: Any) -> None:
    response = client.post("/language/en", data={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    response = client.post("/elder-mode/on", headers={"Referer": "https://evil.example/phish"})
    assert response.headers["Location"] == "/"


def test_elder_mode_cookie_changes_the_body_class(client: Any, hospital: Any) -> None:
    assert '<body class="standard"' in client.get("/").get_data(as_text=True)

    response = client.post("/elder-mode/on", data={"next": "/sign-in"})
    assert _cookie(response, "elder") == "1"
    html = client.get("/sign-in").get_data(as_text=True)
    assert '<body class="elder"' in html
    assert "data-read-aloud" in html

    client.post("/elder-mode/off")
    assert '<body class="standard"' in client.get("/").get_data(as_text=True)


def test_elder_mode_is_saved_on_the_account_and_follows_it(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital)
    sign_in(client, account)
    db.session.commit()

    client.post("/elder-mode/on")
    db.session.expire_all()
    assert db.session.get(Account, account.id).elder_mode is True

    client.delete_cookie("elder")
    assert '<body class="elder"' in client.get("/").get_data(as_text=True)


def test_pages_render_when_no_hospital_exists(client: Any, db_session: Any) -> None:
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert "<main" in page.get_data(as_text=True)
