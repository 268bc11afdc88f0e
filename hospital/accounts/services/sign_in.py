"""Signing in by a code texted to a phone or by password, with the per-account password throttle."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, AccountRole, CodePurpose, Role
from hospital.accounts.passwords import hash_password, needs_rehash, verify_password
from hospital.accounts.services.codes import check_phone_code, parse_phone, send_phone_code
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, TooManyRequests, Unauthorized
from hospital.notifications.messages import MessageTemplate
from hospital.organisation.models import Hospital
from hospital.patients.identity import IdentityError, normalize_phone
from hospital.zones import zone_for

SIGN_IN_CODE_TEMPLATE = "sign_in_code"
MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    SIGN_IN_CODE_TEMPLATE: MessageTemplate(
        subject=_l("Your sign-in code"),
        body=_l(
            "Your {hospital} sign-in code is {code}. It expires in {minutes} minutes. Never share it."
        ),
    ),
}


_SIGN_IN_FAILED = _l(
    "The phone number, username or password is not right. Check them and try again."
)


def request_sign_in_code(hospital: Hospital, phone: str, *, language: str, now: datetime) -> int:
    """Send a sign-in code to phone through the outbox; return seconds until another may be sent."""
    return send_phone_code(
        hospital,
        phone,
        purpose=CodePurpose.SIGN_IN,
        template=SIGN_IN_CODE_TEMPLATE,
        language=language,
        now=now,
    )


def sign_in_with_code(hospital: Hospital, phone: str, code: str, *, now: datetime) -> Account:
    """Check the latest code sent to phone; the first success for a new phone creates a patient."""
    phone = parse_phone(phone)
    row = check_phone_code(hospital, phone, code, purpose=CodePurpose.SIGN_IN, now=now)
    account = db.session.scalar(
        sa.select(Account).where(Account.hospital_id == hospital.id, Account.phone == phone)
    )
    if account is None:
        account = Account(
            hospital_id=hospital.id,
            phone=phone,
            display_name="",
            language=row.language,
            elder_mode=False,
            is_active=True,
            created_at=now,
        )
        account.role_rows = [AccountRole(role=Role.PATIENT, hospital_id=hospital.id)]
        db.session.add(account)
        db.session.flush()
        record(
            action="account.create",
            actor=account,
            object_type="account",
            object_id=str(account.id),
            detail={"via": "sign_in_code"},
        )
    _check_may_sign_in(account, method="code")
    if account.is_staff:
        record(
            action="sign_in.code",
            outcome=Outcome.DENIED,
            actor=account,
            detail={"reason": "staff_must_use_password"},
        )
        raise Forbidden(
            _l("Staff accounts sign in with their username and password."),
            code=ErrorCode.STAFF_USE_PASSWORD,
        )
    return _signed_in(account, method="code", now=now)


def _check_may_sign_in(account: Account, *, method: str) -> None:
    if not account.is_active:
        record(
            action=f"sign_in.{method}",
            outcome=Outcome.DENIED,
            actor=account,
            detail={"reason": "account_disabled"},
        )
        raise Forbidden(
            _l("This account has been disabled. Ask the hospital's help desk for help."),
            code=ErrorCode.ACCOUNT_DISABLED,
        )


def _signed_in(account: Account, *, method: str, now: datetime) -> Account:
    account.last_sign_in_at = now
    if account.failed_sign_ins or account.sign_in_delayed_until is not None:
        account.failed_sign_ins = 0  # a success ends the password throttle: no lasting lock
        account.sign_in_delayed_until = None
    db.session.flush()
    record(
        action=f"sign_in.{method}", actor=account, object_type="account", object_id=str(account.id)
    )
    return account


def _find_by_login(hospital: Hospital, login: str) -> Account | None:
    login = (login or "").strip()
    try:
        phone = normalize_phone(login)
    except IdentityError:
        phone = None
    if phone is not None:
        account = db.session.scalar(
            sa.select(Account).where(Account.hospital_id == hospital.id, Account.phone == phone)
        )
        if account is not None:
            return account
    return db.session.scalar(
        sa.select(Account).where(
            Account.hospital_id == hospital.id, Account.username == login.lower()
        )
    )


class SignInDelayed(TooManyRequests):
    code = ErrorCode.SIGN_IN_DELAYED


def password_delay(failures: int, *, free: int, first_seconds: int, max_seconds: int) -> int:
    """Seconds the next password try must wait after `failures` wrong ones in a row (0: none)."""
    if failures < free:
        return 0
    doublings = min(failures - free, 30)  # 2**30 seconds is beyond any sensible cap
    return min(first_seconds * 2**doublings, max_seconds)


def _count_wrong_password(account: Account, *, now: datetime) -> None:
    """Count a wrong password in one atomic statement, so that concurrent tries all count."""
    failures = db.session.execute(
        sa.update(Account)
        .where(Account.id == account.id)
        .values(failed_sign_ins=Account.failed_sign_ins + 1)
        .returning(Account.failed_sign_ins)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    config = current_app.config
    wait = password_delay(
        failures,
        free=int(config["PASSWORD_FREE_FAILURES"]),
        first_seconds=int(config["PASSWORD_DELAY_SECONDS"]),
        max_seconds=int(config["PASSWORD_MAX_DELAY_SECONDS"]),
    )
    if wait:
        # The row is locked by the UPDATE above until commit: the later of two tries writes last.
        db.session.execute(
            sa.update(Account)
            .where(Account.id == account.id)
            .values(sign_in_delayed_until=now + timedelta(seconds=wait))
            .execution_options(synchronize_session=False)
        )


def _delayed(hospital: Hospital, until: datetime, *, now: datetime) -> SignInDelayed:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    local = until.astimezone(zone_for(hospital))
    return SignInDelayed(
        _l(
            "Too many wrong passwords for this account. Try again after %(time)s "
            "(in %(minutes)d min), or sign in with a code sent by text message.",
            time=local.strftime("%H:%M"),
            minutes=math.ceil(seconds / 60),
        ),
        details={"retry_after": seconds, "retry_at": until.isoformat()},
    )


def sign_in_with_password(
    hospital: Hospital, login: str, password: str, *, now: datetime
) -> Account:
    """Sign in by phone or staff username; one message for unknown login and wrong password.

    After a few wrong passwords for one account, each further try waits longer (429 until
    then). The count lives in the account's row, so it holds across workers and instances; the
    caller must commit it even though the request fails (web_session does).
    """
    account = _find_by_login(hospital, login)
    delayed_until = account.sign_in_delayed_until if account is not None else None
    if delayed_until is not None and delayed_until > now:
        record(
            action="sign_in.password",
            outcome=Outcome.DENIED,
            actor=account,
            hospital_id=hospital.id,
            detail={"reason": "delayed"},
        )
        raise _delayed(hospital, delayed_until, now=now)
    # verify_password checks a dummy hash when there is no account, so timing reveals nothing.
    if not verify_password(account.password_hash if account else None, password or ""):
        record(
            action="sign_in.password",
            outcome=Outcome.FAILED,
            actor=account,
            hospital_id=hospital.id,
            detail={"reason": "wrong_password" if account else "unknown_login"},
        )
        if account is not None:
            _count_wrong_password(account, now=now)
        raise Unauthorized(_SIGN_IN_FAILED, code=ErrorCode.SIGN_IN_FAILED)
    assert account is not None and account.password_hash is not None
    _check_may_sign_in(account, method="password")
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return _signed_in(account, method="password", now=now)
