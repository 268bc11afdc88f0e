"""Sign-in pages: a code by text message, a password, where the visitor goes next."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from flask import Flask

from hospital.accounts.models import Account, Role
from hospital.db import db, utcnow
from hospital.notifications.service import deliver_due
from tests.conftest import TEST_CONFIG
from tests.support.auth import sign_in

PASSWORD = "correct horse battery"


def _code_from_log(caplog: pytest.LogCaptureFixture, phone: str) -> str:
    """Deliver the outbox and read the code from the text message written to the log."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hospital.notifications"):
        deliver_due(now=utcnow())
    masked = phone[:3] + "****" + phone[-4:]
    for record in reversed(caplog.records):
        message = record.getMessage()
        if record.name == "hospital.notifications" and masked in message:
            found = re.search(r"\b(\d{6})\b", message.split(":", 1)[1])
            if found:
                return found.group(1)
    raise AssertionError(f"no sign-in code for {masked} in the log: {caplog.text}")


@pytest.mark.parametrize(
    ("lang", "heading", "button"),
    [("zh", "登录", "发送验证码"), ("en", "Sign in", "Send code")],
)
def test_sign_in_page_is_shown_in_the_chosen_language(
    client: Any, hospital: Any, lang: str, heading: str, button: str
) -> None:
    page = client.get(f"/sign-in?lang={lang}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert button in html
    assert (hospital.name_zh if lang == "zh" else hospital.name_en) in html


def test_password_page_is_shown_in_both_languages(client: Any, hospital: Any) -> None:
    assert "密码" in client.get("/sign-in/password?lang=zh").get_data(as_text=True)
    assert "Password" in client.get("/sign-in/password?lang=en").get_data(as_text=True)


def test_a_patient_signs_in_with_a_code_and_lands_on_the_home_page(
    client: Any, hospital: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sent = client.post("/sign-in/code", data={"phone": "13800000001"})
    assert sent.status_code == 200
    assert "138****0001" in sent.get_data(as_text=True)

    code = _code_from_log(caplog, "13800000001")
    signed_in = client.post("/sign-in/verify", data={"phone": "13800000001", "code": code})

    assert signed_in.status_code == 302
    # A new account: the privacy notice first, then the home page.
    assert signed_in.headers["Location"] == "/privacy?next=/"
    notice = client.get("/privacy?next=/&lang=en").get_data(as_text=True)
    assert "data-privacy-notice" in notice and 'data-action="accept-privacy"' in notice
    agreed = client.post("/privacy", data={"next": "/"})
    assert agreed.headers["Location"] == "/"
    again = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "data-privacy-accepted" in again and "accept-privacy" not in again
    family = client.get("/family")
    assert family.status_code == 200
    assert 'action="/sign-out"' in family.get_data(as_text=True)


def test_a_wrong_code_says_so_and_keeps_the_phone(
    client: Any, hospital: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.post("/sign-in/code", data={"phone": "13800000002"})
    code = _code_from_log(caplog, "13800000002")
    db.session.commit()  # a refused request rolls back what is not committed
    wrong = "000000" if code != "000000" else "111111"

    page = client.post("/sign-in/verify?lang=en", data={"phone": "13800000002", "code": wrong})

    html = page.get_data(as_text=True)
    assert 400 <= page.status_code < 500
    assert 'role="alert"' in html
    assert 'name="phone" value="13800000002"' in html
    assert client.get("/family").status_code == 302


def test_a_bad_phone_number_is_refused_in_plain_words_and_kept(client: Any, hospital: Any) -> None:
    db.session.commit()  # a refused request rolls back what is not committed
    page = client.post("/sign-in/code?lang=en", data={"phone": "12345"})

    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "mobile number" in html.lower()
    assert 'value="12345"' in html


def test_password_sign_in_goes_to_a_same_site_next(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)

    response = client.post(
        "/sign-in/password",
        data={"login": account.phone, "password": PASSWORD, "next": "/family/add"},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/family/add"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/family",
        "//evil.example/family",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_next_cannot_send_the_visitor_off_site(
    client: Any, hospital: Any, create_account: Any, target: str
) -> None:
    account = create_account(hospital, password=PASSWORD)

    response = client.post(
        "/sign-in/password", data={"login": account.phone, "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_wrong_password_is_refused_and_the_login_kept(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()  # a refused request rolls back what is not committed

    page = client.post(
        "/sign-in/password?lang=en", data={"login": account.phone, "password": "wrong password"}
    )

    assert page.status_code == 401
    html = page.get_data(as_text=True)
    assert f'value="{account.phone}"' in html
    assert 'role="alert"' in html


def test_signing_out_ends_the_session(client: Any, hospital: Any, create_account: Any) -> None:
    account = create_account(hospital, password=PASSWORD)
    client.post("/sign-in/password", data={"login": account.phone, "password": PASSWORD})
    assert client.get("/family").status_code == 200

    response = client.post("/sign-out")

    assert response.status_code == 302
    assert client.get("/family").status_code == 302


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back(client: Any, hospital: Any) -> None:
    response = client.get("/family")

    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/family"


def test_form_posts_without_a_csrf_token_are_refused_when_csrf_is_on(
    app: Flask, db_session: Any, hospital: Any, create_account: Any
) -> None:
    protected = _app_with_csrf(app)
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()  # a refused request rolls back what is not committed
    client = protected.test_client()

    refused = client.post(
        "/sign-in/password?lang=en", data={"login": account.phone, "password": PASSWORD}
    )
    assert refused.status_code == 400
    assert "reload the page" in refused.get_data(as_text=True)

    form = client.get("/sign-in/password").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    accepted = client.post(
        "/sign-in/password",
        data={"login": account.phone, "password": PASSWORD, "csrf_token": token},
    )
    assert accepted.status_code == 302
    db.session.expire_all()
    assert db.session.get(Account, account.id).last_sign_in_at is not None


def test_switches_refuse_a_post_without_a_csrf_token_when_csrf_is_on(
    app: Flask, db_session: Any, hospital: Any
) -> None:
    client = _app_with_csrf(app).test_client()

    assert client.post("/language/en").status_code == 400
    assert client.post("/elder-mode/on").status_code == 400


def _app_with_csrf(app: Flask) -> Flask:
    from hospital.app import create_app

    return create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "WTF_CSRF_ENABLED": True,
        }
    )


def test_a_signed_in_visitor_skips_the_sign_in_page(
    client: Any, hospital: Any, create_account: Any
) -> None:
    sign_in(client, create_account(hospital))

    response = client.get("/sign-in?next=/family/add")

    assert response.status_code == 302
    assert response.headers["Location"] == "/family/add"


def test_sign_in_posts_are_rate_limited_per_address(
    app: Flask, db_session: Any, hospital: Any, create_account: Any
) -> None:
    from hospital.app import create_app

    limited = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SIGN_IN_RATE_LIMIT": "2 per minute",
        }
    )
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()  # a refused request rolls back what is not committed
    client = limited.test_client()
    wrong = {"login": account.phone, "password": "wrong password"}

    statuses = [client.post("/sign-in/password?lang=en", data=wrong).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]
    page = client.post("/sign-in/password?lang=en", data=wrong)
    assert "Too many attempts" in page.get_data(as_text=True)


def test_asking_again_too_soon_keeps_the_code_step_with_the_wait(
    app: Flask, client: Any, hospital: Any
) -> None:
    db.session.commit()
    app.config["OTP_RESEND_SECONDS"] = 60
    try:
        client.post("/sign-in/code", data={"phone": "13800000003"})
        again = client.post("/sign-in/code?lang=en", data={"phone": "13800000003"})
    finally:
        app.config["OTP_RESEND_SECONDS"] = TEST_CONFIG["OTP_RESEND_SECONDS"]

    html = again.get_data(as_text=True)
    assert again.status_code == 429
    assert 'name="code"' in html
    assert re.search(r'data-countdown="(5\d|60)"', html)
    assert 'role="alert"' in html


def test_the_code_step_can_be_shown_again_for_the_phone_a_code_went_to(
    client: Any, hospital: Any
) -> None:
    assert client.get("/sign-in/code").headers["Location"] == "/sign-in"

    client.post("/sign-in/code", data={"phone": "13800000004"})
    again = client.get("/sign-in/code?lang=en")

    html = again.get_data(as_text=True)
    assert again.status_code == 200
    assert 'name="phone" value="13800000004"' in html
    assert "138****0004" in html


def test_switches_on_a_refused_form_return_to_a_page_that_exists(
    client: Any, hospital: Any
) -> None:
    db.session.commit()  # a refused request rolls back what is not committed
    page = client.post(
        "/sign-in/verify",
        data={"phone": "13800000005", "code": "123456"},
        headers={"Referer": "http://localhost/sign-in/code"},
    )

    assert 400 <= page.status_code < 500
    assert 'name="next" value="/sign-in/code"' in page.get_data(as_text=True)


def test_without_an_sms_gateway_the_code_step_says_where_the_code_goes(
    app: Any, client: Any, hospital: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.post("/sign-in/code?lang=en", data={"phone": "13800000021"})
    assert page.status_code == 200
    assert "written to the server's log" in page.get_data(as_text=True)
    monkeypatch.setitem(app.config, "SMS_URL", "http://127.0.0.1:9/send")
    page = client.post("/sign-in/code?lang=en", data={"phone": "13800000022"})
    assert page.status_code == 200
    assert "data-code-in-log" not in page.get_data(as_text=True)


def test_an_account_that_never_agreed_is_asked_once_and_staff_are_not(
    client: Any, hospital: Any, create_account: Any
) -> None:
    fresh = create_account(hospital, password=PASSWORD, privacy_accepted_at=None)
    asked = client.post("/sign-in/password", data={"login": fresh.phone, "password": PASSWORD})
    assert asked.headers["Location"] == "/privacy?next=/"
    client.post("/privacy", data={"next": "/"})
    db.session.refresh(fresh)
    assert fresh.privacy_accepted_at is not None
    client.post("/sign-out")
    again = client.post("/sign-in/password", data={"login": fresh.phone, "password": PASSWORD})
    assert again.headers["Location"] == "/"
    client.post("/sign-out")
    nurse = create_account(
        hospital, roles=(Role.NURSE,), password=PASSWORD, privacy_accepted_at=None
    )
    staff = client.post("/sign-in/password", data={"login": nurse.username, "password": PASSWORD})
    assert staff.headers["Location"] == "/"


def test_the_footer_names_the_address_phone_map_and_hours_and_patients_get_a_tab_bar(
    client: Any, hospital: Any, create_account: Any
) -> None:
    hospital.address_en, hospital.phone = "1 Demo Road", "010-12345678"
    hospital.opening_hours_en = "Mon-Fri 8:00-17:00"
    db.session.commit()
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "1 Demo Road" in page and 'href="tel:01012345678"' in page
    assert "data-map-link" in page and "Mon-Fri 8:00-17:00" in page
    assert "data-tab-bar" not in page  # not signed in
    sign_in(client, create_account(hospital))
    page = client.get("/book?lang=en").get_data(as_text=True)
    assert 'data-tab="scheduling_pages.book" aria-current="page"' in page
