"""Write messages to the outbox in the caller's transaction; deliver them later from a job."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from hospital.accounts.models import Account
from hospital.db import db
from hospital.notifications.channels import OutgoingMessage, Sender, senders_from_config
from hospital.notifications.messages import render
from hospital.notifications.models import Channel, DeliveryStatus, OutboxMessage
from hospital.patients.access import Permission, link_grants
from hospital.patients.models import FamilyLink, Patient, Relationship

log = logging.getLogger("hospital.notifications")

DEDUPE_KEY_LENGTH = 128
SUBJECT_LENGTH = 200


def _stored_dedupe_key(key: str) -> str:
    """Keep a key within the column; long keys are hashed (still unique in practice)."""
    if len(key) <= DEDUPE_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _enqueue(message: OutboxMessage) -> bool:
    """Add message; False if its dedupe key already exists (the unique constraint decides)."""
    if message.dedupe_key is None:
        db.session.add(message)
        db.session.flush()
        return True
    exists = db.session.scalar(
        sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key == message.dedupe_key)
    )
    if exists is not None:
        return False
    # A concurrent writer may insert the same key between the check and the insert: the
    # savepoint lets us lose that race without spoiling the caller's transaction.
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        return False  # the savepoint's rollback already dropped the message from the session
    return True


def notify(
    *,
    hospital_id: int,
    template: str,
    context: dict[str, Any],
    language: str,
    phone: str | None = None,
    email: str | None = None,
    patient_id: int | None = None,
    dedupe_key: str | None = None,
    now: datetime,
) -> list[OutboxMessage]:
    """Write one outbox message per channel (SMS to phone, e-mail to email) in this transaction."""
    subject, body = render(template, context, language)
    written: list[OutboxMessage] = []
    for channel, recipient in ((Channel.SMS, phone), (Channel.EMAIL, email)):
        if not recipient:
            continue
        message = OutboxMessage(
            hospital_id=hospital_id,
            channel=channel,
            recipient=recipient,
            template=template,
            language=language,
            subject=subject[:SUBJECT_LENGTH],
            body=body,
            patient_id=patient_id,
            dedupe_key=_stored_dedupe_key(f"{dedupe_key}:{channel.value}") if dedupe_key else None,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
        if _enqueue(message):
            written.append(message)
    return written


def _default_language() -> str:
    return str(current_app.config.get("DEFAULT_LANGUAGE") or "zh")


def withdraw_unsent(dedupe_key: str, *, now: datetime) -> int:
    """Drop the not-yet-due, never-tried messages notify() queued under dedupe_key.

    For a message that became pointless before it went out (a survey answered at the kiosk
    before its link was due). Only rows still waiting for their first attempt are removed:
    the outbox job claims a row only once it is due, so none of these can be in flight."""
    keys = [_stored_dedupe_key(f"{dedupe_key}:{channel.value}") for channel in Channel]
    result: Any = db.session.execute(  # a CursorResult: it has the row count
        sa.delete(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key.in_(keys),
            OutboxMessage.status == DeliveryStatus.PENDING,
            OutboxMessage.attempts == 0,
            OutboxMessage.next_attempt_at > now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def notify_patient(
    patient: Patient,
    template: str,
    context: dict[str, Any],
    *,
    now: datetime,
    dedupe_key: str | None = None,
    family_permission: Permission | None = None,
) -> list[OutboxMessage]:
    """Notify the patient's own phone and, given a permission, every linked account granted it."""
    links = db.session.execute(
        sa.select(FamilyLink, Account)
        .join(Account, Account.id == FamilyLink.account_id)
        .where(FamilyLink.patient_id == patient.id)
        .order_by(FamilyLink.id)
    ).all()
    own_account = next(
        (account for link, account in links if link.relationship == Relationship.SELF), None
    )
    language = own_account.language.value if own_account is not None else _default_language()

    # A profile created without its own number is reached through its own account's phone.
    own_phone = patient.phone or (own_account.phone if own_account is not None else None)
    written: list[OutboxMessage] = []
    phones: set[str] = set()
    emails: set[str] = set()
    if own_phone:
        phones.add(own_phone)
        written += notify(
            hospital_id=patient.hospital_id,
            template=template,
            context=context,
            language=language,
            phone=own_phone,
            patient_id=patient.id,
            dedupe_key=f"{dedupe_key}:patient" if dedupe_key else None,
            now=now,
        )
    if family_permission is None:
        return written
    for link, account in links:
        if not account.is_active or not link_grants(link, family_permission):
            continue
        phone = account.phone if account.phone and account.phone not in phones else None
        email = account.email if account.email and account.email not in emails else None
        if phone is None and email is None:
            continue
        if phone:
            phones.add(phone)
        if email:
            emails.add(email)
        written += notify(
            hospital_id=patient.hospital_id,
            template=template,
            context=context,
            language=account.language.value,
            phone=phone,
            email=email,
            patient_id=patient.id,
            dedupe_key=f"{dedupe_key}:account{account.id}" if dedupe_key else None,
            now=now,
        )
    return written


FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
ERROR_LENGTH = 1000


def backoff(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The wait after the attempts-th failure: 30 s, 1 min, 2 min ... capped at an hour."""
    if attempts > 20:  # far beyond the cap for any sensible first wait; avoid huge numbers
        return LONGEST_WAIT
    return min(first * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


# A claimed message is invisible to other dispatchers until its lease ends
# (OUTBOX_LEASE_SECONDS); a dispatcher that dies mid-batch thereby hands its messages back.
# A batch stops sending at half the lease.
LEASE = timedelta(minutes=15)  # the setting's default
batch_clock = time.monotonic  # replaced in tests


@dataclass(frozen=True)
class _Claim:
    message: OutgoingMessage
    id: int
    attempt: int


def message_key(row: OutboxMessage) -> str:
    """The message's idempotency key: the same on every attempt, unique across databases."""
    return f"hospital-outbox-{row.hospital_id}-{row.id}-{int(row.created_at.timestamp())}"


def _claim_due(limit: int, lease: timedelta, *, now: datetime) -> list[_Claim]:
    due = db.session.scalars(
        sa.select(OutboxMessage)
        .where(
            OutboxMessage.status == DeliveryStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claims = []
    for row in due:
        row.attempts += 1
        row.next_attempt_at = now + lease
        claims.append(
            _Claim(
                OutgoingMessage(
                    row.channel, row.recipient, row.subject, row.body, message_key(row)
                ),
                row.id,
                row.attempts,
            )
        )
    db.session.flush()
    return claims


def _record(claim: _Claim, values: dict[str, object]) -> None:
    """Write an outcome unless the lease ran out and another dispatcher re-claimed the row."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == claim.id,
            OutboxMessage.attempts == claim.attempt,
            OutboxMessage.status == DeliveryStatus.PENDING,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def deliver_due(
    *, now: datetime, limit: int = 100, senders: Mapping[Channel, Sender] | None = None
) -> int:
    """Send pending messages that are due; return how many were sent.

    Unlike other services this one commits: the claim (rows locked FOR UPDATE SKIP LOCKED on
    PostgreSQL, so two dispatchers never take the same message), then each message's outcome
    as soon as it is known, each in a short transaction; nothing is held open while talking to
    the gateways (a transaction open across network calls would block every writer on
    SQLite). Call it in its own unit of work (the deliver-outbox job). A failure schedules a
    retry with exponential backoff, or marks the message failed after OUTBOX_MAX_ATTEMPTS.

    A dispatcher that dies between a gateway's "accepted" and its own "sent" leaves at most the
    one message in flight, which is sent again once the lease ends, with the same key: the
    gateway's idempotency key and the e-mail's Message-ID let the far side drop the copy.
    """
    config = current_app.config
    if senders is None:
        senders = senders_from_config(config)
    max_attempts = int(config.get("OUTBOX_MAX_ATTEMPTS") or 1)
    first_retry = timedelta(seconds=int(config.get("OUTBOX_RETRY_SECONDS") or 30))
    lease = timedelta(seconds=int(config.get("OUTBOX_LEASE_SECONDS") or LEASE.total_seconds()))
    claims = _claim_due(limit, lease, now=now)
    db.session.commit()
    if not claims:
        return 0

    sent = 0
    tried = 0
    started = batch_clock()
    for claim in claims:
        if batch_clock() - started > lease.total_seconds() / 2:
            break  # the rest go back to the queue below, before their lease could run out
        tried += 1
        try:
            senders[claim.message.channel].send(claim.message)
        except Exception as exc:  # any failure of one message must not stop the others
            _record_failure(claim, exc, now=now, max_attempts=max_attempts, first_retry=first_retry)
        else:
            _record(claim, {"status": DeliveryStatus.SENT, "sent_at": now, "last_error": ""})
            sent += 1
        db.session.commit()
    for claim in claims[tried:]:  # not tried: no attempt spent
        _record(claim, {"attempts": claim.attempt - 1, "next_attempt_at": now})
    db.session.commit()
    return sent


def _record_failure(
    claim: _Claim, error: Exception, *, now: datetime, max_attempts: int, first_retry: timedelta
) -> None:
    last_error = f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
    if claim.attempt >= max_attempts:
        _record(claim, {"status": DeliveryStatus.FAILED, "last_error": last_error})
        log.error(
            "outbox message %s (%s) failed for good after %d attempts: %s",
            claim.id,
            claim.message.channel.value,
            claim.attempt,
            last_error,
        )
        return
    retry_at = now + backoff(claim.attempt, first_retry)
    _record(claim, {"next_attempt_at": retry_at, "last_error": last_error})
    log.warning(
        "outbox message %s (%s) attempt %d failed, retrying at %s: %s",
        claim.id,
        claim.message.channel.value,
        claim.attempt,
        retry_at.isoformat(),
        last_error,
    )
