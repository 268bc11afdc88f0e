"""Sign-in, passwords, preferences, staff and device accounts: the only writer of accounts' tables."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from hospital import events
from hospital.accounts import otp
from hospital.accounts.models import (
    STAFF_ROLES,
    Account,
    AccountRole,
    CodePurpose,
    Device,
    DeviceKind,
    Language,
    OneTimeCode,
    Role,
)
from hospital.accounts.passwords import hash_password, needs_rehash, verify_password
from hospital.accounts.sessions import revoke_all_sessions, revoke_session
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db, is_postgres
from hospital.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from hospital.notifications.messages import register_template
from hospital.notifications.service import notify
from hospital.organisation.models import Hospital, ServicePoint
from hospital.patients.identity import IdentityError, mask_phone, normalize_phone

SIGN_IN_CODE_TEMPLATE = "sign_in_code"
register_template(
    SIGN_IN_CODE_TEMPLATE,
    subject=_l("Your sign-in code"),
    body=_l(
        "Your {hospital} sign-in code is {code}. It expires in {minutes} minutes. Never share it."
    ),
)

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
DISPLAY_NAME_MAX_LENGTH = 100
REASON_MAX_LENGTH = 200
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")

_SIGN_IN_FAILED = _l(
    "The phone number, username or password is not right. Check them and try again."
)


# ---- one-time codes -----------------------------------------------------------------------


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except IdentityError:
        raise InvalidInput(
            _l(
                "Enter a mobile number: 11 digits starting with 1 (e.g. 13800138000), "
                "or an international number starting with + and the country code."
            ),
            code="invalid_phone",
        ) from None


def _language(value: str | Language) -> Language:
    try:
        return Language(value)
    except ValueError:
        raise InvalidInput(
            _l("Choose the language zh (Chinese) or en (English)."), code="invalid_language"
        ) from None


def _lock_phone(hospital_id: int, phone: str) -> None:
    """Serialise code requests for one phone, so the send limits hold across server instances.

    SQLite already serialises writers (requests that write begin with BEGIN IMMEDIATE).
    """
    if not is_postgres():
        return
    digest = hashlib.sha256(f"one-time-code:{hospital_id}:{phone}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _send_limit() -> otp.SendLimit:
    return otp.SendLimit(
        resend_seconds=int(current_app.config["OTP_RESEND_SECONDS"]),
        per_hour=int(current_app.config["OTP_SENDS_PER_HOUR"]),
    )


def _hospital_name(hospital: Hospital, language: Language) -> str:
    return hospital.name_zh if language is Language.ZH else hospital.name_en


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


_AUDIT_PREFIX = {
    CodePurpose.SIGN_IN: "sign_in",
    CodePurpose.KIOSK_CONFIRM: "kiosk",
    CodePurpose.FAMILY_LINK: "family",
}


def send_phone_code(
    hospital: Hospital,
    phone: str,
    *,
    purpose: CodePurpose,
    template: str,
    language: str,
    now: datetime,
    device: Any = None,
) -> int:
    """Text a one-time code for purpose (the template gets hospital, code, minutes).

    Per phone and purpose at most one send per resend interval and a few an hour; return the
    seconds until another may be sent.
    """
    phone = _phone(phone)
    lang = _language(language)
    _lock_phone(hospital.id, phone)
    limit = _send_limit()
    sent_at = db.session.scalars(
        sa.select(OneTimeCode.created_at).where(
            OneTimeCode.hospital_id == hospital.id,
            OneTimeCode.phone == phone,
            OneTimeCode.purpose == purpose,
            OneTimeCode.created_at > now - timedelta(hours=1),
        )
    ).all()
    wait = otp.seconds_until_next_send(sent_at, limit=limit, now=now)
    if wait > 0:
        record(
            action=f"{_AUDIT_PREFIX[purpose]}.code_send",
            outcome=Outcome.DENIED,
            device=device,
            hospital_id=hospital.id,
            detail={"phone": mask_phone(phone), "reason": "rate_limited", "wait": wait},
        )
        raise TooManyRequests(
            _l(
                "A code was sent to this number recently. Wait %(seconds)s seconds, "
                "then ask for a new one.",
                seconds=wait,
            ),
            code="code_send_limited",
            details={"retry_after": wait},
        )
    ttl = int(current_app.config["OTP_TTL_SECONDS"])
    code = otp.generate_code()
    row = OneTimeCode(
        hospital_id=hospital.id,
        phone=phone,
        purpose=purpose,
        code_hash=otp.hash_code(code, key=_secret(), phone=phone, purpose=purpose.value),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        attempts=0,
        language=lang,
    )
    db.session.add(row)
    db.session.flush()
    notify(
        hospital_id=hospital.id,
        template=template,
        context={
            "hospital": _hospital_name(hospital, lang),
            "code": code,
            "minutes": max(1, ttl // 60),
        },
        language=lang.value,
        phone=phone,
        now=now,
    )
    record(
        action=f"{_AUDIT_PREFIX[purpose]}.code_send",
        device=device,
        hospital_id=hospital.id,
        object_type="one_time_code",
        object_id=str(row.id),
        detail={"phone": mask_phone(phone)},
    )
    return otp.seconds_until_next_send([*sent_at, now], limit=limit, now=now)


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


# A wrong try must count even though the request that made it fails. The request edge commits
# it before failing (see web_session.sign_in_with_code). For a caller that rolls back instead,
# the increment is written again after the rollback, and committed with the failure's audit
# entry, which the request edge replays (hospital.audit.service.replay_after_rollback).
_TRIES_TO_KEEP = "one_time_code_tries_to_keep"


def _keep_try_after_rollback(code_id: int, max_attempts: int) -> None:
    db.session().info.setdefault(_TRIES_TO_KEEP, []).append((code_id, max_attempts))


@event.listens_for(Session, "after_commit")
def _forget_tries(session: Session) -> None:
    session.info.pop(_TRIES_TO_KEEP, None)


@event.listens_for(Session, "after_soft_rollback")
def _replay_tries(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is not None or not session.is_active:
        return
    for code_id, max_attempts in session.info.pop(_TRIES_TO_KEEP, ()):
        session.execute(
            sa.update(OneTimeCode)
            .where(OneTimeCode.id == code_id, OneTimeCode.attempts < max_attempts)
            .values(attempts=OneTimeCode.attempts + 1)
        )


def _code_failure(
    hospital: Hospital,
    phone: str,
    row: OneTimeCode | None,
    reason: str,
    message: Any,
    purpose: CodePurpose = CodePurpose.SIGN_IN,
    device: Any = None,
) -> Unauthorized:
    record(
        action=f"{_AUDIT_PREFIX[purpose]}.code",
        device=device,
        outcome=Outcome.FAILED,
        hospital_id=hospital.id,
        object_type="one_time_code" if row is not None else "",
        object_id=str(row.id) if row is not None else "",
        detail={"phone": mask_phone(phone), "reason": reason},
    )
    return Unauthorized(message, code=f"code_{reason}")


_CODE_MESSAGES = {
    otp.CodeRefusal.MISSING: _l("No code was sent to this number. Ask for a code first."),
    otp.CodeRefusal.USED: _l("This code was already used. Ask for a new code."),
    otp.CodeRefusal.EXPIRED: _l("This code has expired. Ask for a new code."),
    otp.CodeRefusal.LOCKED: _l("Too many wrong tries for this code. Ask for a new code."),
}


def check_phone_code(
    hospital: Hospital,
    phone: str,
    code: str,
    *,
    purpose: CodePurpose,
    now: datetime,
    device: Any = None,
) -> OneTimeCode:
    """Consume the latest code sent to phone for purpose, or raise Unauthorized (tries counted)."""
    phone = _phone(phone)
    code = (code or "").strip()
    if not otp.is_well_formed(code):
        raise InvalidInput(_l("Enter the 6-digit code from the SMS."), code="invalid_code_format")
    row = db.session.scalar(
        sa.select(OneTimeCode)
        .where(
            OneTimeCode.hospital_id == hospital.id,
            OneTimeCode.phone == phone,
            OneTimeCode.purpose == purpose,
        )
        .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
        .limit(1)
    )
    max_attempts = int(current_app.config["OTP_MAX_ATTEMPTS"])
    if row is None:
        reason = otp.CodeRefusal.MISSING
        raise _code_failure(
            hospital, phone, None, reason.value, _CODE_MESSAGES[reason], purpose, device
        )
    refused = otp.refusal(
        expires_at=row.expires_at,
        consumed_at=row.consumed_at,
        attempts=row.attempts,
        max_attempts=max_attempts,
        now=now,
    )
    if refused is None:
        # Claim one try atomically: concurrent guesses cannot exceed the limit between them.
        claimed = db.session.execute(
            sa.update(OneTimeCode)
            .where(
                OneTimeCode.id == row.id,
                OneTimeCode.attempts < max_attempts,
                OneTimeCode.consumed_at.is_(None),
            )
            .values(attempts=OneTimeCode.attempts + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            db.session.refresh(row)
            refused = (
                otp.refusal(
                    expires_at=row.expires_at,
                    consumed_at=row.consumed_at,
                    attempts=row.attempts,
                    max_attempts=max_attempts,
                    now=now,
                )
                or otp.CodeRefusal.LOCKED
            )
    if refused is not None:
        raise _code_failure(
            hospital, phone, row, refused.value, _CODE_MESSAGES[refused], purpose, device
        )
    if not otp.code_matches(row.code_hash, code, key=_secret(), phone=phone, purpose=purpose.value):
        _keep_try_after_rollback(row.id, max_attempts)
        db.session.refresh(row)
        left = max(0, max_attempts - row.attempts)
        if left == 0:
            message = _CODE_MESSAGES[otp.CodeRefusal.LOCKED]
        else:
            message = _l(
                "This code is not right. Check the SMS and try again (%(left)s tries left).",
                left=left,
            )
        raise _code_failure(hospital, phone, row, "wrong", message, purpose, device)
    consumed = db.session.execute(
        sa.update(OneTimeCode)
        .where(OneTimeCode.id == row.id, OneTimeCode.consumed_at.is_(None))
        .values(consumed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not consumed:
        reason = otp.CodeRefusal.USED
        raise _code_failure(
            hospital, phone, row, reason.value, _CODE_MESSAGES[reason], purpose, device
        )
    db.session.refresh(row)
    return row


def sign_in_with_code(hospital: Hospital, phone: str, code: str, *, now: datetime) -> Account:
    """Check the latest code sent to phone; the first success for a new phone creates a patient."""
    phone = _phone(phone)
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
            code="staff_use_password",
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
            code="account_disabled",
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


# ---- passwords ----------------------------------------------------------------------------


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
    code = "sign_in_delayed"


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
    local = until.astimezone(ZoneInfo(hospital.timezone))
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
        raise Unauthorized(_SIGN_IN_FAILED, code="sign_in_failed")
    assert account is not None and account.password_hash is not None
    _check_may_sign_in(account, method="password")
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return _signed_in(account, method="password", now=now)


def _check_new_password(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(
            _l("Choose a password of at least %(n)s characters.", n=PASSWORD_MIN_LENGTH),
            code="password_too_short",
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidInput(
            _l("Choose a password of at most %(n)s characters.", n=PASSWORD_MAX_LENGTH),
            code="password_too_long",
        )
    if password.strip() == "" or len(set(password)) < 3:
        raise InvalidInput(
            _l("This password is too easy to guess. Mix more different characters."),
            code="password_too_weak",
        )


def set_password(
    account: Account, *, new_password: str, current_password: str | None, now: datetime
) -> None:
    """Set or change the password; other sessions of the account end."""
    if account.password_hash is not None and not verify_password(
        account.password_hash, current_password or ""
    ):
        record(
            action="account.set_password",
            outcome=Outcome.FAILED,
            actor=account,
            object_type="account",
            object_id=str(account.id),
            detail={"reason": "wrong_current_password"},
        )
        raise Forbidden(
            _l("Your current password is not right. Enter it again."),
            code="current_password_wrong",
        )
    _check_new_password(new_password)
    account.password_hash = hash_password(new_password)
    keep = account.session_token
    revoked = 0
    if keep:
        from hospital.accounts.models import AuthSession
        from hospital.accounts.sessions import token_hash

        revoked = (
            db.session.execute(
                sa.update(AuthSession)
                .where(
                    AuthSession.account_id == account.id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.token_hash != token_hash(keep),
                )
                .values(revoked_at=now)
            ).rowcount
            or 0
        )
    else:
        revoked = revoke_all_sessions(account.id, now=now)
    db.session.flush()
    record(
        action="account.set_password",
        actor=account,
        object_type="account",
        object_id=str(account.id),
        detail={"other_sessions_ended": revoked},
    )


# ---- preferences --------------------------------------------------------------------------


def update_preferences(
    account: Account,
    *,
    language: str | None = None,
    elder_mode: bool | None = None,
    display_name: str | None = None,
) -> Account:
    """Change the account's language, elder mode or display name (None leaves a value as is)."""
    if language is not None:
        account.language = _language(language)
    if elder_mode is not None:
        account.elder_mode = bool(elder_mode)
    if display_name is not None:
        name = " ".join(display_name.split())
        if len(name) > DISPLAY_NAME_MAX_LENGTH:
            raise InvalidInput(
                _l("Keep the name to %(n)s characters or fewer.", n=DISPLAY_NAME_MAX_LENGTH),
                code="display_name_too_long",
            )
        account.display_name = name
    db.session.flush()
    return account


# ---- sign-out and disabling ---------------------------------------------------------------


def sign_out(account: Account | None, token: str | None, *, now: datetime) -> None:
    """End one server-side session at once: a copied cookie stops working too."""
    revoke_session(token, now=now)
    if account is not None:
        record(action="sign_out", actor=account, object_type="account", object_id=str(account.id))


def _deny(actor: Account, action: str, object_type: str, object_id: int, needs: str) -> Forbidden:
    record(
        action=action,
        outcome=Outcome.DENIED,
        actor=actor,
        object_type=object_type,
        object_id=str(object_id),
        detail={"needs": [needs]},
    )
    return Forbidden(_l("Your account does not have the role this needs."), code="role_required")


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(_l("Give a reason, so others know why."), code="reason_required")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            _l("Keep the reason to %(n)s characters or fewer.", n=REASON_MAX_LENGTH),
            code="reason_too_long",
        )
    return reason


def disable_account(
    actor: Account | None, account_id: int, *, reason: str, now: datetime
) -> Account:
    """Disable an account and end all its sessions at once (actor None: an operator at the CLI)."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise _deny(actor, "account.disable", "account", account_id, Role.ADMIN.value)
    reason = _reason(reason)
    target = db.session.get(Account, account_id)
    if target is None or (actor is not None and target.hospital_id != actor.hospital_id):
        raise NotFound(
            _l("There is no account %(id)s in this hospital. Check the number.", id=account_id),
            code="account_not_found",
        )
    if actor is not None and target.id == actor.id:
        raise Conflict(
            _l("You cannot disable your own account. Ask another administrator."),
            code="cannot_disable_self",
        )
    if target.is_active:
        target.is_active = False
        target.disabled_at = now
    ended = revoke_all_sessions(target.id, now=now)
    db.session.flush()
    record(
        action="account.disable",
        actor=actor,
        hospital_id=target.hospital_id,
        object_type="account",
        object_id=str(target.id),
        detail={"reason": reason, "sessions_ended": ended},
    )
    events.account_disabled.send(None, account_id=target.id, now=now)
    return target


# ---- staff --------------------------------------------------------------------------------


def create_staff(
    hospital: Hospital,
    *,
    username: str,
    password: str,
    roles: Iterable[Role | str],
    display_name: str,
    now: datetime,
    actor: Account | None = None,
) -> Account:
    """Create a staff account with a username, a password and one or more staff roles."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise _deny(actor, "account.create_staff", "account", 0, Role.ADMIN.value)
    if actor is not None and actor.hospital_id != hospital.id:
        raise NotFound(_l("This hospital was not found."), code="hospital_not_found")
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise InvalidInput(
            _l(
                "Choose a username of 3 to 64 characters: lower-case letters, digits, "
                "and . _ - (not first)."
            ),
            code="invalid_username",
        )
    try:
        wanted = {Role(r) for r in roles}
    except ValueError:
        raise InvalidInput(
            _l("Unknown role. Choose from: registrar, nurse, clinician, cashier, lab, admin."),
            code="invalid_role",
        ) from None
    if not wanted or not wanted <= STAFF_ROLES:
        raise InvalidInput(
            _l("Give at least one staff role: registrar, nurse, clinician, cashier, lab or admin."),
            code="invalid_role",
        )
    _check_new_password(password or "")
    name = " ".join((display_name or "").split())
    if not name or len(name) > DISPLAY_NAME_MAX_LENGTH:
        raise InvalidInput(
            _l("Give the person's name (at most %(n)s characters).", n=DISPLAY_NAME_MAX_LENGTH),
            code="invalid_display_name",
        )
    taken = db.session.scalar(
        sa.select(Account.id).where(
            Account.hospital_id == hospital.id, Account.username == username
        )
    )
    if taken is not None:
        raise Conflict(
            _l("The username %(username)s is taken. Choose another.", username=username),
            code="username_taken",
        )
    account = Account(
        hospital_id=hospital.id,
        username=username,
        display_name=name,
        password_hash=hash_password(password),
        language=Language(current_app.config["DEFAULT_LANGUAGE"]),
        elder_mode=False,
        is_active=True,
        created_at=now,
    )
    account.role_rows = [
        AccountRole(role=r, hospital_id=hospital.id) for r in sorted(wanted, key=lambda r: r.value)
    ]
    db.session.add(account)
    db.session.flush()
    record(
        action="account.create_staff",
        actor=actor,
        hospital_id=hospital.id,
        object_type="account",
        object_id=str(account.id),
        detail={"username": username, "roles": sorted(r.value for r in wanted)},
    )
    return account


# ---- devices ------------------------------------------------------------------------------


def device_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register_device(
    actor: Account | None,
    *,
    kind: DeviceKind | str,
    name: str,
    location: str,
    service_point_id: int | None,
    now: datetime,
    hospital: Hospital | None = None,
) -> tuple[Device, str]:
    """Register a kiosk, display board or lab system; return it with its token (shown only now).

    An operator at the CLI passes actor None and the hospital.
    """
    if actor is not None:
        if not actor.has_role(Role.ADMIN):
            raise _deny(actor, "device.register", "device", 0, Role.ADMIN.value)
        hospital_id = actor.hospital_id
    elif hospital is not None:
        hospital_id = hospital.id
    else:
        raise ValueError("register_device needs an actor or a hospital")
    try:
        kind = DeviceKind(kind)
    except ValueError:
        raise InvalidInput(
            _l("Unknown device kind. Choose kiosk, display_board or lab_system."),
            code="invalid_device_kind",
        ) from None
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput(
            _l("Give the device a name of at most 100 characters."), code="invalid_device_name"
        )
    location = " ".join((location or "").split())
    if len(location) > 200:
        raise InvalidInput(
            _l("Keep the location to 200 characters or fewer."), code="invalid_location"
        )
    if service_point_id is not None:
        point = db.session.get(ServicePoint, service_point_id)
        if point is None or point.hospital_id != hospital_id:
            raise NotFound(
                _l(
                    "There is no service point %(id)s in this hospital. Check the number.",
                    id=service_point_id,
                ),
                code="service_point_not_found",
            )
    token = secrets.token_urlsafe(32)
    device = Device(
        hospital_id=hospital_id,
        kind=kind,
        name=name,
        location=location,
        service_point_id=service_point_id,
        token_hash=device_token_hash(token),
        is_active=True,
        created_at=now,
    )
    db.session.add(device)
    db.session.flush()
    record(
        action="device.register",
        actor=actor,
        hospital_id=hospital_id,
        object_type="device",
        object_id=str(device.id),
        detail={"kind": kind.value, "name": name, "location": location},
    )
    return device, token


def list_devices(actor: Account) -> list[Device]:
    """The devices of the actor's hospital (admins only)."""
    if not actor.has_role(Role.ADMIN):
        raise _deny(actor, "device.list", "device", 0, Role.ADMIN.value)
    return list(
        db.session.scalars(
            sa.select(Device).where(Device.hospital_id == actor.hospital_id).order_by(Device.id)
        )
    )


def disable_device(actor: Account | None, device_id: int, *, now: datetime) -> Device:
    """Refuse the device's token from now on."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise _deny(actor, "device.disable", "device", device_id, Role.ADMIN.value)
    device = db.session.get(Device, device_id)
    if device is None or (actor is not None and device.hospital_id != actor.hospital_id):
        raise NotFound(
            _l("There is no device %(id)s in this hospital. Check the number.", id=device_id),
            code="device_not_found",
        )
    device.is_active = False
    db.session.flush()
    record(
        action="device.disable",
        actor=actor,
        hospital_id=device.hospital_id,
        object_type="device",
        object_id=str(device.id),
    )
    return device


def prune_one_time_codes(*, now: datetime) -> int:
    """Delete one-time codes (phone numbers with a hashed code) older than a day."""
    deleted = db.session.execute(
        sa.delete(OneTimeCode).where(OneTimeCode.created_at < now - timedelta(days=1))
    ).rowcount
    return int(deleted or 0)
