"""Accounts, their roles, server-side sessions, one-time codes and device tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow


class Role(enum.StrEnum):
    PATIENT = "patient"
    REGISTRAR = "registrar"
    NURSE = "nurse"
    CLINICIAN = "clinician"
    CASHIER = "cashier"
    LAB = "lab"
    ADMIN = "admin"


STAFF_ROLES = frozenset(Role) - {Role.PATIENT}


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


class Account(Model):
    """A person who signs in: a patient (by phone) or a staff member (by username)."""

    __tablename__ = "account"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "phone"),
        sa.UniqueConstraint("hospital_id", "username"),
        sa.CheckConstraint("phone IS NOT NULL OR username IS NOT NULL", name="has_login"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    username: Mapped[str | None] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    display_name: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    language: Mapped[Language] = enum_column(Language, default=Language.ZH)
    elder_mode: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The per-account password throttle: wrong passwords since the last success, and until when
    # the next try must wait. Kept here, not in a worker's memory, so it holds across instances.
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    sign_in_delayed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the account holder agreed to the privacy notice (asked once, at the first sign-in).
    privacy_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list[AccountRole]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    # flask-login: the id kept in the cookie is the session token, not the account id, so that
    # revoking the server-side session ends it (see hospital/accounts/sessions.py).
    is_authenticated = True
    is_anonymous = False
    # Set per request by the session loader; not a column (so no annotation the ORM would map).
    if TYPE_CHECKING:
        session_token: str | None
    else:
        session_token = None

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)


class AccountRole(Model):
    __tablename__ = "account_role"

    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = enum_column(Role, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)

    account: Mapped[Account] = relationship(back_populates="role_rows")


class AuthSession(Model):
    """A signed-in session, kept on the server so that sign-out and disabling revoke it at once."""

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the random token in the cookie: a leaked database does not leak live sessions.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")

    account: Mapped[Account] = relationship()


class CodePurpose(enum.StrEnum):
    SIGN_IN = "sign_in"
    KIOSK_CONFIRM = "kiosk_confirm"
    FAMILY_LINK = "family_link"  # the patient's consent to be linked to another account


class OneTimeCode(Model):
    """A 6-digit code sent by SMS: single use, short-lived, locked after a few wrong tries."""

    __tablename__ = "one_time_code"
    __table_args__ = (
        sa.Index("ix_one_time_code_phone_created", "hospital_id", "phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    phone: Mapped[str] = mapped_column(sa.String(20))
    purpose: Mapped[CodePurpose] = enum_column(CodePurpose)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language the code was asked for in: an account created by this code starts in it.
    language: Mapped[Language] = enum_column(Language, default=Language.ZH)


class DeviceKind(enum.StrEnum):
    KIOSK = "kiosk"
    DISPLAY_BOARD = "display_board"
    LAB_SYSTEM = "lab_system"


class Device(Model):
    """A kiosk, display board or laboratory system, authenticated by a bearer token."""

    __tablename__ = "device"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    kind: Mapped[DeviceKind] = enum_column(DeviceKind)
    name: Mapped[str] = mapped_column(sa.String(100))
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    service_point_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_point.id"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
