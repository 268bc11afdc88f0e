"""Signing in with a one-time code: single use, expiry, lock-out and send limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account, OneTimeCode, Role
from hospital.accounts.services import sign_in
from hospital.audit.models import AuditEntry
from hospital.audit.service import replay_after_rollback
from hospital.db import db, utcnow
from hospital.errors import InvalidInput, TooManyRequests, Unauthorized
from hospital.extensions import limiter
from hospital.notifications.models import OutboxMessage
from tests.support.auth import fresh_request_globals, last_sign_in_code

PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _fresh_globals(app: Any) -> Iterator[None]:
    with fresh_request_globals(app):
        yield


@pytest.fixture
def hospital(create_hospital: Any, db_session: Any) -> Any:
    """Committed (into the test's outer transaction), so a failing request cannot roll it back."""
    created = create_hospital()
    db_session.commit()
    return created


def _send(client: Any, phone: str = PHONE) -> Any:
    return client.post("/api/v1/auth/code", json={"phone": phone})


def _verify(client: Any, code: str, phone: str = PHONE) -> Any:
    return client.post("/api/v1/auth/code/verify", json={"phone": phone, "code": code})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_code_signs_in_and_creates_a_patient_account(client: Any, hospital: Any) -> None:
    sent = _send(client, "+86 138-0013-8000")
    assert sent.status_code == 200, sent.json
    assert sent.json["expires_in_seconds"] == 300
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.recipient == PHONE))
    assert message is not None and hospital.name_zh in message.body

    response = _verify(client, last_sign_in_code(PHONE))

    assert response.status_code == 200, response.json
    assert response.json["phone"] == PHONE
    assert response.json["roles"] == ["patient"]
    assert "password_hash" not in response.json
    assert client.get("/api/v1/auth/me").json["id"] == response.json["id"]


def test_only_a_hash_of_the_code_is_stored(client: Any, hospital: Any) -> None:
    _send(client)
    code = last_sign_in_code(PHONE)
    row = db.session.scalar(sa.select(OneTimeCode).where(OneTimeCode.phone == PHONE))
    assert row is not None and code not in row.code_hash and len(row.code_hash) == 64


def test_code_works_only_once(client: Any, hospital: Any, app: Any) -> None:
    _send(client)
    code = last_sign_in_code(PHONE)
    assert _verify(client, code).status_code == 200

    again = app.test_client().post("/api/v1/auth/code/verify", json={"phone": PHONE, "code": code})

    assert again.status_code == 401
    assert again.json["code"] == "code_used"


def test_code_expires_after_five_minutes(hospital: Any, db_session: Any) -> None:
    now = utcnow()
    sign_in.request_sign_in_code(hospital, PHONE, language="zh", now=now)
    code = last_sign_in_code(PHONE)

    with pytest.raises(Unauthorized) as refused:
        sign_in.sign_in_with_code(hospital, PHONE, code, now=now + timedelta(seconds=300))

    assert refused.value.code == "code_expired"
    account = sign_in.sign_in_with_code(hospital, PHONE, code, now=now + timedelta(seconds=299))
    assert account.phone == PHONE


def test_five_wrong_tries_lock_the_code_even_for_the_right_one(client: Any, hospital: Any) -> None:
    client.set_cookie("lang", "en")
    _send(client)
    code = last_sign_in_code(PHONE)
    for _ in range(4):
        wrong = _verify(client, _wrong(code))
        assert wrong.status_code == 401
        assert wrong.json["code"] == "code_wrong"
    fifth = _verify(client, _wrong(code))
    assert fifth.json["code"] == "code_wrong"
    assert "new code" in fifth.json["message"]

    right = _verify(client, code)

    assert right.status_code == 401
    assert right.json["code"] == "code_locked"
    assert client.get("/api/v1/auth/me").status_code == 401
    row = db.session.scalar(sa.select(OneTimeCode).where(OneTimeCode.phone == PHONE))
    assert row is not None and row.attempts == 5 and row.consumed_at is None


def test_wrong_tries_are_counted_although_the_failing_request_rolls_back(
    client: Any, hospital: Any
) -> None:
    _send(client)
    code = last_sign_in_code(PHONE)
    _verify(client, _wrong(code))
    db.session.expire_all()
    row = db.session.scalar(sa.select(OneTimeCode).where(OneTimeCode.phone == PHONE))
    assert row is not None and row.attempts == 1


def test_a_caller_that_rolls_back_still_counts_the_wrong_try(hospital: Any) -> None:
    now = utcnow()
    sign_in.request_sign_in_code(hospital, PHONE, language="zh", now=now)
    db.session.commit()
    code = last_sign_in_code(PHONE)

    with pytest.raises(Unauthorized):
        sign_in.sign_in_with_code(hospital, PHONE, _wrong(code), now=now)
    # What the request edge does with a failed request:
    db.session.rollback()
    replay_after_rollback()

    db.session.expire_all()
    row = db.session.scalar(sa.select(OneTimeCode).where(OneTimeCode.phone == PHONE))
    assert row is not None and row.attempts == 1
    failures = db.session.scalars(
        sa.select(AuditEntry.outcome).where(AuditEntry.action == "sign_in.code")
    ).all()
    assert [f.value for f in failures] == ["failed"]


def test_a_new_code_replaces_the_old_one(client: Any, hospital: Any) -> None:
    _send(client)
    first = last_sign_in_code(PHONE)
    _send(client)
    second = last_sign_in_code(PHONE)
    if first == second:
        pytest.skip("the two random codes happened to be equal")
    assert _verify(client, first).status_code == 401
    assert _verify(client, second).status_code == 200


def test_resend_waits_for_the_resend_interval(
    hospital: Any, db_session: Any, app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "OTP_RESEND_SECONDS", 60)
    now = utcnow()
    assert sign_in.request_sign_in_code(hospital, PHONE, language="zh", now=now) == 60

    with pytest.raises(TooManyRequests) as refused:
        sign_in.request_sign_in_code(
            hospital, PHONE, language="zh", now=now + timedelta(seconds=30)
        )

    assert refused.value.code == "code_send_limited"
    assert refused.value.details == {"retry_after": 30}
    assert (
        sign_in.request_sign_in_code(
            hospital, PHONE, language="zh", now=now + timedelta(seconds=60)
        )
        == 60
    )


def test_hourly_limit_per_phone_is_kept_in_the_database(
    client: Any, hospital: Any, app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "OTP_SENDS_PER_HOUR", 3)
    now = utcnow()
    for minutes in (50, 40, 30):
        sign_in.request_sign_in_code(
            hospital, PHONE, language="zh", now=now - timedelta(minutes=minutes)
        )
    db.session.commit()

    refused = _send(client)

    assert refused.status_code == 429
    assert refused.json["code"] == "code_send_limited"
    assert 590 <= refused.json["errors"]["retry_after"] <= 600
    # The standard header too (flask-limiter re-renders it from the same instant: ±1 s).
    assert abs(int(refused.headers["Retry-After"]) - refused.json["errors"]["retry_after"]) <= 1
    assert _send(client, "13900139000").status_code == 200
    sent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient == PHONE)
    )
    assert sent == 3


def test_send_limit_is_per_address_too(
    client: Any, hospital: Any, app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "SEND_CODE_RATE_LIMIT", "2 per minute")
    limiter.reset()
    try:
        assert _send(client, "13800138001").status_code == 200
        assert _send(client, "13800138002").status_code == 200
        third = _send(client, "13800138003")
    finally:
        limiter.reset()

    assert third.status_code == 429
    assert third.json["code"] == "too_many_requests"
    assert int(third.headers["Retry-After"]) > 0  # flask-limiter's own header
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.recipient == "13800138003")
        )
        == 0
    )


def test_sign_in_limit_is_per_address(
    client: Any, hospital: Any, app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "3 per minute")
    limiter.reset()
    try:
        statuses = [
            client.post(
                "/api/v1/auth/password", json={"login": "nobody", "password": "whatever1"}
            ).status_code
            for _ in range(3)
        ]
        fourth = _verify(client, "123456")
    finally:
        limiter.reset()

    assert statuses == [401, 401, 401]
    assert fourth.status_code == 429


def test_invalid_phone_is_refused_and_nothing_is_written(client: Any, hospital: Any) -> None:
    client.set_cookie("lang", "en")
    response = _send(client, "12345")

    assert response.status_code == 422
    assert response.json["code"] == "invalid_phone"
    assert "11 digits" in response.json["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OneTimeCode)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_code_of_one_hospital_does_not_sign_in_at_another(
    hospital: Any, create_hospital: Any, db_session: Any
) -> None:
    other = create_hospital()
    now = utcnow()
    sign_in.request_sign_in_code(hospital, PHONE, language="en", now=now)
    code = last_sign_in_code(PHONE)

    with pytest.raises(Unauthorized):
        sign_in.sign_in_with_code(other, PHONE, code, now=now)


def test_badly_formed_code_is_refused_before_any_try_counts(hospital: Any, db_session: Any) -> None:
    now = utcnow()
    sign_in.request_sign_in_code(hospital, PHONE, language="zh", now=now)
    with pytest.raises(InvalidInput) as refused:
        sign_in.sign_in_with_code(hospital, PHONE, "12a4", now=now)
    assert refused.value.code == "invalid_code_format"
    row = db.session.scalar(sa.select(OneTimeCode).where(OneTimeCode.phone == PHONE))
    assert row is not None and row.attempts == 0


def test_new_account_starts_in_the_language_the_code_was_asked_in(
    hospital: Any, db_session: Any
) -> None:
    now = utcnow()
    sign_in.request_sign_in_code(hospital, PHONE, language="en", now=now)
    body = db.session.scalar(sa.select(OutboxMessage.body).where(OutboxMessage.recipient == PHONE))
    assert body is not None and hospital.name_en in body and "sign-in code" in body

    account = sign_in.sign_in_with_code(hospital, PHONE, last_sign_in_code(PHONE), now=now)

    assert account.language.value == "en"
    assert account.roles == {Role.PATIENT}


def test_existing_patient_signs_in_to_their_own_account(
    hospital: Any, create_account: Any, db_session: Any
) -> None:
    existing = create_account(hospital, phone=PHONE)
    db.session.commit()
    now = utcnow()
    sign_in.request_sign_in_code(hospital, PHONE, language="zh", now=now)

    account = sign_in.sign_in_with_code(hospital, PHONE, last_sign_in_code(PHONE), now=now)

    assert account.id == existing.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 1


def test_code_sends_and_sign_ins_are_audited(client: Any, hospital: Any) -> None:
    _send(client)
    code = last_sign_in_code(PHONE)
    _verify(client, _wrong(code))
    _verify(client, code)

    rows = db.session.execute(
        sa.select(AuditEntry.action, AuditEntry.outcome, AuditEntry.detail).order_by(AuditEntry.id)
    ).all()
    actions = [(a, o.value) for a, o, _d in rows]
    assert ("sign_in.code_send", "success") in actions
    assert ("sign_in.code", "failed") in actions
    assert ("sign_in.code", "success") in actions
    assert all(PHONE not in str(d) for _a, _o, d in rows), "audit details mask the phone"
