"""One-time codes texted to a phone: sending within limits, checking with counted tries, pruning."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from hospital.accounts import otp
from hospital.accounts.models import CodePurpose, Language, OneTimeCode
from hospital.accounts.services.preferences import parse_language
from hospital.audit.models import Outcome
from hospital.audit.service import record
from hospital.db import db, execute_dml, is_postgres
from hospital.error_codes import ErrorCode
from hospital.errors import InvalidInput, TooManyRequests, Unauthorized
from hospital.notifications.service import notify
from hospital.organisation.models import Hospital
from hospital.patients.identity import IdentityError, mask_phone, normalize_phone
from hospital.unit_of_work import after_rollback


def parse_phone(raw: str) -> str:
    """Return the phone normalised, or raise invalid_phone saying what a number looks like."""
    try:
        return normalize_phone(raw)
    except IdentityError:
        raise InvalidInput(
            _l(
                "Enter a mobile number: 11 digits starting with 1 (e.g. 13800138000), "
                "or an international number starting with + and the country code."
            ),
            code=ErrorCode.INVALID_PHONE,
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
    phone = parse_phone(phone)
    lang = parse_language(language)
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
            code=ErrorCode.CODE_SEND_LIMITED,
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
def _keep_try_after_rollback(code_id: int, max_attempts: int) -> None:
    def count_again(session: Session) -> None:
        session.execute(
            sa.update(OneTimeCode)
            .where(OneTimeCode.id == code_id, OneTimeCode.attempts < max_attempts)
            .values(attempts=OneTimeCode.attempts + 1)
        )

    after_rollback(count_again)


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
    return Unauthorized(message, code=ErrorCode(f"code_{reason}"))


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
    phone = parse_phone(phone)
    code = (code or "").strip()
    if not otp.is_well_formed(code):
        raise InvalidInput(
            _l("Enter the 6-digit code from the SMS."), code=ErrorCode.INVALID_CODE_FORMAT
        )
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
        claimed = execute_dml(
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
    consumed = execute_dml(
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


def prune_one_time_codes(*, now: datetime) -> int:
    """Delete one-time codes (phone numbers with a hashed code) older than a day."""
    deleted = execute_dml(
        sa.delete(OneTimeCode).where(OneTimeCode.created_at < now - timedelta(days=1))
    ).rowcount
    return int(deleted or 0)
