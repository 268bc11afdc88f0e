"""One-time codes: format, keyed hashing, refusal reasons and per-phone send limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hospital.accounts import otp

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LIMIT = otp.SendLimit(resend_seconds=60, per_hour=5)


def test_generated_codes_are_six_digits_and_vary() -> None:
    codes = {otp.generate_code() for _ in range(200)}
    assert all(otp.is_well_formed(c) for c in codes)
    assert len(codes) > 150


def test_code_format_refuses_letters_and_wrong_lengths() -> None:
    assert otp.is_well_formed("012345")
    for bad in ("", "12345", "1234567", "12a456", " 123456", "123456\n", "１２３４５６"):
        assert not otp.is_well_formed(bad)


def test_hash_is_keyed_and_bound_to_phone_and_purpose() -> None:
    h = otp.hash_code("123456", key="k1", phone="13800138000", purpose="sign_in")
    assert "123456" not in h and len(h) == 64
    assert h != otp.hash_code("123456", key="k2", phone="13800138000", purpose="sign_in")
    assert h != otp.hash_code("123456", key="k1", phone="13800138001", purpose="sign_in")
    assert h != otp.hash_code("123456", key="k1", phone="13800138000", purpose="kiosk_confirm")


def test_code_matches_only_the_right_code() -> None:
    h = otp.hash_code("123456", key="k", phone="13800138000", purpose="sign_in")
    assert otp.code_matches(h, "123456", key="k", phone="13800138000", purpose="sign_in")
    assert not otp.code_matches(h, "123457", key="k", phone="13800138000", purpose="sign_in")


def _refusal(**kw: object) -> otp.CodeRefusal | None:
    values = {
        "expires_at": NOW + timedelta(minutes=5),
        "consumed_at": None,
        "attempts": 0,
        "max_attempts": 5,
        "now": NOW,
    }
    values.update(kw)
    return otp.refusal(**values)  # type: ignore[arg-type]


def test_fresh_code_may_be_tried() -> None:
    assert _refusal() is None
    assert _refusal(attempts=4) is None


def test_used_expired_and_locked_codes_are_refused() -> None:
    assert _refusal(consumed_at=NOW) is otp.CodeRefusal.USED
    assert _refusal(now=NOW + timedelta(minutes=5)) is otp.CodeRefusal.EXPIRED
    assert _refusal(attempts=5) is otp.CodeRefusal.LOCKED


def test_first_send_needs_no_wait() -> None:
    assert otp.seconds_until_next_send([], limit=LIMIT, now=NOW) == 0


def test_resend_waits_the_resend_interval() -> None:
    sent = [NOW - timedelta(seconds=20)]
    assert otp.seconds_until_next_send(sent, limit=LIMIT, now=NOW) == 40
    assert otp.seconds_until_next_send(sent, limit=LIMIT, now=NOW + timedelta(seconds=40)) == 0


def test_hourly_limit_waits_until_the_oldest_send_leaves_the_hour() -> None:
    sent = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    assert otp.seconds_until_next_send(sent, limit=LIMIT, now=NOW) == 10 * 60
    older = [NOW - timedelta(minutes=61), *sent[1:]]
    assert otp.seconds_until_next_send(older, limit=LIMIT, now=NOW) == 0


def test_zero_sends_per_hour_never_allows_a_send() -> None:
    limit = otp.SendLimit(resend_seconds=0, per_hour=0)
    assert otp.seconds_until_next_send([], limit=limit, now=NOW) == 3600
