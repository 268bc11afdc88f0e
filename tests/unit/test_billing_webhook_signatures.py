"""Stripe-style webhook signatures: timestamped HMAC-SHA256, 300 s tolerance, rotating secrets."""

from __future__ import annotations

import pytest

from hospital.billing.providers.base import SignatureError
from hospital.billing.providers.stripe_webhooks import signature_header, verify_signature

BODY = b'{"type":"payment.succeeded","amount_fen":1200}'
NOW = 1_800_000_000


def test_a_fresh_signature_verifies() -> None:
    header = signature_header(BODY, "s1", NOW - 10)
    assert verify_signature(BODY, header, ["s1"], now=NOW) == NOW - 10


def test_any_current_secret_verifies_during_rotation() -> None:
    header = signature_header(BODY, "old", NOW)
    assert verify_signature(BODY, header, ["new", "old"], now=NOW) == NOW


def test_the_boundary_of_the_tolerance_is_accepted() -> None:
    header = signature_header(BODY, "s1", NOW - 300)
    assert verify_signature(BODY, header, ["s1"], now=NOW) == NOW - 300


def test_a_sender_clock_a_little_ahead_of_ours_is_accepted() -> None:
    header = signature_header(BODY, "s1", NOW + 60)
    assert verify_signature(BODY, header, ["s1"], now=NOW) == NOW + 60


@pytest.mark.parametrize(
    "label, body, header",
    [
        ("forged", BODY, f"t={NOW},v1={'0' * 64}"),
        ("one byte changed", BODY.replace(b"1200", b"1201"), signature_header(BODY, "s1", NOW)),
        ("missing header", BODY, None),
        ("empty header", BODY, ""),
        ("301 s old", BODY, signature_header(BODY, "s1", NOW - 301)),
        ("61 s in the future", BODY, signature_header(BODY, "s1", NOW + 61)),
        ("wrong secret", BODY, signature_header(BODY, "other", NOW)),
        ("no timestamp", BODY, "v1=" + signature_header(BODY, "s1", NOW).split("v1=")[1]),
        ("garbage timestamp", BODY, "t=abc,v1=00"),
        ("no v1", BODY, f"t={NOW},v0=abc"),
    ],
)
def test_bad_signatures_are_refused(label: str, body: bytes, header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_signature(body, header, ["s1"], now=NOW)


def test_no_configured_secret_refuses_everything() -> None:
    with pytest.raises(SignatureError):
        verify_signature(BODY, signature_header(BODY, "s1", NOW), [], now=NOW)
