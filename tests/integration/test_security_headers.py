"""Browser security headers: a CSP with a per-response script nonce, no sniffing, no framing,
HSTS in production, and nothing a patient sees stored by the browser or a proxy."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hospital.app import create_app
from tests.conftest import TEST_CONFIG
from tests.support.auth import sign_in


def _policy(response: Any) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.parametrize("url", ["/", "/book", "/sign-in", "/api/v1/auth/me", "/api/docs"])
def test_every_response_carries_the_security_headers(client: Any, hospital: Any, url: str) -> None:
    response = client.get(url)
    policy = _policy(response)
    assert "'unsafe-inline'" not in policy["script-src"]
    assert re.search(r"'nonce-[A-Za-z0-9_-]{16,}'", policy["script-src"])
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
    assert "Strict-Transport-Security" not in response.headers  # not in development
    assert response.headers["Cache-Control"] == "no-store"


def test_each_response_has_its_own_nonce_and_inline_scripts_carry_it(
    client: Any, hospital: Any
) -> None:
    first, second = client.get("/api/docs"), client.get("/api/docs")
    nonces = [
        re.search(r"'nonce-([^']+)'", _policy(r)["script-src"]).group(1) for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    html = second.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline, "the API docs start Swagger UI from an inline script"
    assert all(f'nonce="{nonces[1]}"' in attributes for attributes in inline)


def test_static_assets_keep_their_caching(client: Any, hospital: Any) -> None:
    with client.get("/assets/js/hospital.js") as response:
        assert response.status_code == 200
        assert response.headers.get("Cache-Control") != "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_signed_in_patients_answers_are_not_stored(
    client: Any, hospital: Any, create_account: Any, db_session: Any
) -> None:
    account = create_account(hospital)
    db_session.commit()
    sign_in(client, account)
    for url in ("/", "/appointments", "/api/v1/auth/me", "/api/v1/family"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url


def test_production_sends_hsts(tmp_path: Any) -> None:
    app = create_app(
        {
            **TEST_CONFIG,
            "TESTING": False,
            "ENV": "production",
            "SECRET_KEY": "p" * 40,
            "DATABASE_URL": "sqlite:///" + str(tmp_path / "p.db"),
            "BILLING_PROVIDERS": "alipay",
            "SMS_URL": "https://sms.example.org/send",
            "SMTP_URL": "smtp://relay.example.org",
        }
    )
    with app.test_client().get("/assets/js/hospital.js") as response:
        assert "max-age=" in response.headers["Strict-Transport-Security"]
