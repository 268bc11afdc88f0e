"""Patients and the family links through which an account acts for them."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, enum_column, utcnow


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class IdentityType(enum.StrEnum):
    RESIDENT_ID = "resident_id"  # mainland China resident identity card, 18 characters
    PASSPORT = "passport"


class Patient(Model):
    """A person who receives care. An elder without a phone exists only as a linked patient."""

    __tablename__ = "patient"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "id_type", "id_number"),
        sa.UniqueConstraint("hospital_id", "medical_record_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    sex: Mapped[Sex] = enum_column(Sex)
    birth_date: Mapped[date] = mapped_column(sa.Date)
    id_type: Mapped[IdentityType] = enum_column(IdentityType)
    id_number: Mapped[str] = mapped_column(sa.String(32))
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    medical_record_number: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When staff saw the person with their identity document. A record added by a family account
    # starts unconfirmed (None): its first match at the registration desk asks staff to check.
    identity_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # The account whose family add created this record (None: made by staff, the desk or seeding).
    created_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))


class Relationship(enum.StrEnum):
    SELF = "self"
    PARENT = "parent"  # the patient is the account holder's parent
    CHILD = "child"
    SPOUSE = "spouse"
    OTHER = "other"


class FamilyLink(Model):
    """An account acting for a patient: its own profile (self) or a family member."""

    __tablename__ = "family_link"
    __table_args__ = (sa.UniqueConstraint("account_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    relationship: Mapped[Relationship] = enum_column(Relationship)
    can_book: Mapped[bool] = mapped_column(default=True)
    can_pay: Mapped[bool] = mapped_column(default=True)
    can_view_reports: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))

    patient: Mapped[Patient] = orm.relationship(foreign_keys=[patient_id])
