"""The Idempotency-Key header: a retried request returns the stored response instead of acting twice.

Put `@idempotent` on an API handler that changes state (between `@blp.route` and
`@blp.arguments`). With an `Idempotency-Key` header, per account:

- the first request claims the key (an `in_flight` record, committed at once so that others
  see it), runs, and stores its response in the same transaction as its effects (`completed`);
- the same key and the same request again returns the stored response (header
  `Idempotent-Replayed: true`);
- the same key with another request (method, path or body) is refused with 422;
- the same key while the first is still running gets 409.

A request that fails (4xx/5xx) gives its key back, so the client may retry with it. A claim left
`in_flight` by a crashed process is taken over after `STALE_AFTER`.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Response, make_response, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, db, enum_column, execute_dml, utcnow
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
STALE_AFTER = timedelta(seconds=60)

F = TypeVar("F", bound=Callable[..., Any])


class IdempotencyState(enum.StrEnum):
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


class IdempotencyRecord(Model):
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "account_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(MAX_KEY_LENGTH))
    # SHA-256 of method, path and canonical body: tells a retry from a different request.
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[IdempotencyState] = enum_column(IdempotencyState)
    status_code: Mapped[int | None] = mapped_column()
    content_type: Mapped[str] = mapped_column(sa.String(100), default="")
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Hash the request; JSON bodies are canonicalised so key order and spacing do not matter."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def _valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


def _insert_claim(values: dict[str, Any]) -> int | None:
    dialect = db.session.get_bind().dialect.name
    table = IdempotencyRecord.__table__
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return db.session.execute(
        insert.values(**values).on_conflict_do_nothing().returning(table.c.id)
    ).scalar()


def claim(
    hospital_id: int, account_id: int, key: str, fingerprint: str, *, now: datetime
) -> tuple[int | None, IdempotencyRecord | None]:
    """Claim the key: (record id, None) to run the request, or (None, stored record) to replay.

    Raises 422 for another request under the same key, 409 while the first is in flight.
    The claim is committed at once so that concurrent requests see it.
    """
    record_id = _insert_claim(
        {
            "hospital_id": hospital_id,
            "account_id": account_id,
            "key": key,
            "fingerprint": fingerprint,
            "state": IdempotencyState.IN_FLIGHT.value,
            "content_type": "",
            "created_at": now,
        }
    )
    if record_id is None:
        existing = db.session.scalar(
            sa.select(IdempotencyRecord)
            .where(
                IdempotencyRecord.hospital_id == hospital_id,
                IdempotencyRecord.account_id == account_id,
                IdempotencyRecord.key == key,
            )
            .execution_options(populate_existing=True)
        )
        if existing is None:  # given back by a failed request just now
            return claim(hospital_id, account_id, key, fingerprint, now=now)
        if existing.fingerprint != fingerprint:
            raise InvalidInput(
                _l(
                    "This Idempotency-Key was already used for a different request. Use a new "
                    "key for a new request."
                ),
                code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
            )
        if existing.state is IdempotencyState.COMPLETED:
            return None, existing
        taken_over = execute_dml(
            sa.update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == existing.id,
                IdempotencyRecord.state == IdempotencyState.IN_FLIGHT,
                IdempotencyRecord.created_at <= now - STALE_AFTER,
            )
            .values(created_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken_over != 1:
            raise Conflict(
                _l(
                    "The same request is still being processed. Wait a moment, then retry "
                    "with the same Idempotency-Key."
                ),
                code=ErrorCode.IDEMPOTENCY_IN_FLIGHT,
            )
        record_id = existing.id
    db.session.commit()
    return record_id, None


def complete(record_id: int, response: Response, *, now: datetime) -> None:
    """Store the response with the request's own effects (committed together at the edge)."""
    db.session.execute(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(
            state=IdempotencyState.COMPLETED,
            status_code=response.status_code,
            content_type=(response.content_type or "")[:100],
            response_body=response.get_data(as_text=True),
            completed_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def give_back(record_id: int) -> None:
    """Drop a claim whose request failed, so that the client may retry with the same key."""
    db.session.rollback()
    db.session.execute(
        sa.delete(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record_id,
            IdempotencyRecord.state == IdempotencyState.IN_FLIGHT,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def replay(record: IdempotencyRecord) -> Response:
    response = Response(
        record.response_body or "",
        status=record.status_code or 200,
        content_type=record.content_type or "application/json",
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(fn: F) -> F:
    """Honour the Idempotency-Key header on a state-changing API handler (signed-in accounts)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        if not _valid_key(key):
            raise InvalidInput(
                _l("The Idempotency-Key header must be 1 to 255 printable ASCII characters."),
                code=ErrorCode.IDEMPOTENCY_KEY_INVALID,
            )
        from hospital.accounts.guards import signed_in_account

        account = signed_in_account()
        now = utcnow()
        fingerprint = request_fingerprint(request.method, request.path, request.get_data())
        record_id, stored = claim(account.hospital_id, account.id, key, fingerprint, now=now)
        if stored is not None:
            return replay(stored)
        assert record_id is not None
        try:
            response = make_response(fn(*args, **kwargs))
        except BaseException:
            give_back(record_id)
            raise
        if response.status_code >= 400:
            give_back(record_id)
            return response
        complete(record_id, response, now=utcnow())
        return response

    return cast(F, wrapper)
