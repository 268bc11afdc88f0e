"""Password guessing is slowed per account, in the database: growing waits, never a lasting lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Account, Role
from hospital.accounts.services.sign_in import password_delay
from hospital.audit.models import AuditEntry, Outcome
from hospital.db import db, utcnow
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.auth import fresh_request_globals

PASSWORD = "correct horse 7"
WRONG = "not the password"


@pytest.fixture(autouse=True)
def _fresh_globals(app: Any) -> Iterator[None]:
    with fresh_request_globals(app):
        yield


@pytest.fixture
def hospital(create_hospital: Any, db_session: Any) -> Any:
    created = create_hospital()
    db_session.commit()
    return created


def _sign_in(client: Any, login: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/password", json={"login": login, "password": password})


def _row(account_id: int) -> Account:
    db.session.expire_all()
    account = db.session.get(Account, account_id)
    assert account is not None
    return account


def _let_the_wait_pass(account_id: int) -> None:
    """Move the account's wait into the past, as if the minutes had gone by."""
    db.session.execute(
        sa.update(Account)
        .where(Account.id == account_id)
        .values(sign_in_delayed_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_waits_grow_from_the_first_delay_and_stop_at_the_cap() -> None:
    waits = [password_delay(n, free=5, first_seconds=60, max_seconds=900) for n in range(12)]
    assert waits == [0, 0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]
    assert password_delay(10_000, free=5, first_seconds=60, max_seconds=900) == 900


def test_after_five_wrong_passwords_the_next_try_waits_with_429_and_retry_after(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    for _ in range(5):
        assert _sign_in(client, account.phone, WRONG).status_code == 401
    assert _row(account.id).failed_sign_ins == 5

    # Even the right password waits: the delay is not a hint that the guess was right.
    refused = _sign_in(client, account.phone)

    assert refused.status_code == 429
    assert refused.json["code"] == "sign_in_delayed"
    assert 55 <= int(refused.headers["Retry-After"]) <= 60
    assert "Try again after" in refused.json["message"] or "再试" in refused.json["message"]
    assert client.get("/api/v1/auth/me").status_code == 401
    denied = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "sign_in.password", AuditEntry.outcome == Outcome.DENIED
        )
    ).all()
    assert [d.detail["reason"] for d in denied] == ["delayed"]


def test_a_wrong_password_after_the_wait_doubles_it_and_a_right_one_resets_the_count(
    client: Any, hospital: Any, create_account: Any
) -> None:
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    for _ in range(5):
        _sign_in(client, account.phone, WRONG)
    _let_the_wait_pass(account.id)

    assert _sign_in(client, account.phone, WRONG).status_code == 401
    second = _sign_in(client, account.phone)
    assert second.status_code == 429 and 115 <= int(second.headers["Retry-After"]) <= 120

    _let_the_wait_pass(account.id)
    assert _sign_in(client, account.phone).status_code == 200
    row = _row(account.id)
    assert row.failed_sign_ins == 0 and row.sign_in_delayed_until is None


def test_staff_sign_in_by_username_is_throttled_on_the_page_too(
    client: Any, hospital: Any, create_account: Any
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,), password=PASSWORD, username="wang.li")
    db.session.commit()
    for _ in range(5):
        page = client.post("/sign-in/password", data={"login": "wang.li", "password": WRONG})
        assert page.status_code == 401

    page = client.post("/sign-in/password", data={"login": "wang.li", "password": PASSWORD})

    assert page.status_code == 429
    assert 55 <= int(page.headers["Retry-After"]) <= 60
    text = page.get_data(as_text=True)
    assert "Try again after" in text or "再试" in text
    assert _row(nurse.id).failed_sign_ins == 5


def test_a_wrong_password_for_one_account_does_not_slow_another(
    client: Any, hospital: Any, create_account: Any
) -> None:
    target = create_account(hospital, password=PASSWORD)
    other = create_account(hospital, password=PASSWORD)
    db.session.commit()
    for _ in range(6):
        _sign_in(client, target.phone, WRONG)
    assert _sign_in(client, other.phone).status_code == 200


def test_the_per_address_limit_still_applies(
    app: Any, client: Any, hospital: Any, create_account: Any, monkeypatch: Any
) -> None:
    from hospital.extensions import limiter

    monkeypatch.setitem(app.config, "SIGN_IN_RATE_LIMIT", "2 per minute")
    limiter.reset()
    account = create_account(hospital, password=PASSWORD)
    db.session.commit()
    statuses = [_sign_in(client, "nobody", WRONG).status_code for _ in range(3)]
    limiter.reset()
    assert statuses == [401, 401, 429]
    assert _row(account.id).failed_sign_ins == 0


THREADS = 6


def test_concurrent_wrong_passwords_all_count(app: Any, committed: None, monkeypatch: Any) -> None:
    # The wait starts with the last of these guesses, so none of them is turned away early.
    monkeypatch.setitem(app.config, "PASSWORD_FREE_FAILURES", THREADS)
    with app.app_context():
        with unit_of_work():
            hospital = factories.create_hospital()
            account = factories.create_account(hospital, password=PASSWORD)
        account_id, phone = account.id, account.phone
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess() -> None:
        client = app.test_client()
        barrier.wait()
        status = _sign_in(client, phone, WRONG).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Every guess was checked before any wait was set, so all were compared and all count.
    assert sorted(statuses) == [401] * THREADS
    with app.app_context():
        row = db.session.get(Account, account_id)
        assert row is not None and row.failed_sign_ins == THREADS
        assert row.sign_in_delayed_until is not None
        db.session.remove()
