"""The hospital, its departments, clinicians and service points (rooms and counters)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow
from hospital.zones import DEFAULT_TIMEZONE


class Hospital(Model):
    __tablename__ = "hospital"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(200))
    name_en: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default=DEFAULT_TIMEZONE)
    address_zh: Mapped[str] = mapped_column(sa.String(300), default="")
    address_en: Mapped[str] = mapped_column(sa.String(300), default="")
    phone: Mapped[str] = mapped_column(sa.String(32), default="")
    # Shown in every page's footer, e.g. "门诊 周一至周五 8:00–17:00；急诊 24 小时".
    opening_hours_zh: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    opening_hours_en: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Department(Model):
    __tablename__ = "department"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    # Pinyin initials of the Chinese name ("nk" for 内科), so patients can search by them.
    pinyin_initials: Mapped[str] = mapped_column(sa.String(32), default="")
    description_zh: Mapped[str] = mapped_column(sa.Text, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)

    hospital: Mapped[Hospital] = relationship()


class ClinicianTitle(enum.StrEnum):
    CHIEF_PHYSICIAN = "chief_physician"
    ASSOCIATE_CHIEF_PHYSICIAN = "associate_chief_physician"
    ATTENDING_PHYSICIAN = "attending_physician"
    RESIDENT_PHYSICIAN = "resident_physician"
    TECHNICIAN = "technician"


class Clinician(Model):
    __tablename__ = "clinician"

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[ClinicianTitle] = enum_column(ClinicianTitle)
    specialty_zh: Mapped[str] = mapped_column(sa.String(300), default="")
    specialty_en: Mapped[str] = mapped_column(sa.String(300), default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship()


class ServicePointKind(enum.StrEnum):
    CONSULTATION_ROOM = "consultation_room"
    REGISTRATION_DESK = "registration_desk"
    CASHIER = "cashier"
    LAB_DRAW = "lab_draw"
    PHARMACY = "pharmacy"
    IMAGING = "imaging"


class ServicePoint(Model):
    """A place where patients are served: a consultation room or a counter."""

    __tablename__ = "service_point"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    kind: Mapped[ServicePointKind] = enum_column(ServicePointKind)
    code: Mapped[str] = mapped_column(sa.String(32))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    building: Mapped[str] = mapped_column(sa.String(50), default="")
    floor: Mapped[str] = mapped_column(sa.String(10), default="")
    room: Mapped[str] = mapped_column(sa.String(20), default="")
    directions_zh: Mapped[str] = mapped_column(sa.String(300), default="")
    directions_en: Mapped[str] = mapped_column(sa.String(300), default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department | None] = relationship()
