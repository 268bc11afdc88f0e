"""`hospital serve` points links in messages at itself unless HOSPITAL_PUBLIC_URL says otherwise."""

from __future__ import annotations

from hospital.cli import default_public_url


def test_the_served_address_is_the_public_url_by_default() -> None:
    assert default_public_url("127.0.0.1", 8001, {}) == "http://127.0.0.1:8001"
    assert default_public_url("0.0.0.0", 8000, {}) == "http://127.0.0.1:8000"
    assert default_public_url("::1", 8000, {}) == "http://[::1]:8000"


def test_a_configured_public_url_wins() -> None:
    environ = {"HOSPITAL_PUBLIC_URL": "https://hospital.example"}
    assert default_public_url("0.0.0.0", 8000, environ) is None
