"""Lab and exam reports with their versions and items, test types, and the statistics summary."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow
from hospital.patients.models import Patient
from reports.release import ReleaseRule


class ReportStatus(enum.StrEnum):
    ORDERED = "ordered"  # results received (or awaited) but not released to the patient
    READY = "ready"  # released; the patient has been notified
    VIEWED = "viewed"  # the patient or a family member opened it
    AMENDED = "amended"  # a corrected version was released after the first; not yet viewed


class ReportSource(enum.StrEnum):
    STAFF = "staff"
    HL7 = "hl7"
    FHIR = "fhir"


class AbnormalFlag(enum.StrEnum):
    NORMAL = "normal"
    LOW = "low"
    HIGH = "high"
    CRITICAL_LOW = "critical_low"
    CRITICAL_HIGH = "critical_high"
    ABNORMAL = "abnormal"


class TestType(Model):
    """A kind of test or exam, and the rule by which its results reach the patient."""

    __tablename__ = "report_test_type"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "code"),
        sa.CheckConstraint("release_delay_minutes >= 0", name="delay_not_negative"),
    )
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    release_rule: Mapped[ReleaseRule] = enum_column(ReleaseRule, default=ReleaseRule.IMMEDIATE)
    release_delay_minutes: Mapped[int] = mapped_column(default=0)


class LabReport(Model):
    """A report for one patient; its content lives in versions, the newest being current."""

    __tablename__ = "lab_report"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "report_number"),
        sa.Index("ix_lab_report_patient_status", "patient_id", "status"),
        sa.Index("ix_lab_report_release_due", "release_due_at"),
        # Online report pickups per day in the operations statistics.
        sa.Index("ix_lab_report_first_viewed", "hospital_id", "first_viewed_at"),
        sa.CheckConstraint("current_version >= 1", name="version_positive"),
        sa.CheckConstraint(
            "released_version IS NULL OR released_version <= current_version",
            name="released_version_exists",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    # The only handle in URLs: random, so it neither reveals nor lets anyone guess a patient.
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    report_number: Mapped[str] = mapped_column(sa.String(32))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    test_code: Mapped[str] = mapped_column(sa.String(40))
    test_name: Mapped[str] = mapped_column(sa.String(200))
    order_reference: Mapped[str] = mapped_column(sa.String(64), default="")
    # The billing order the results belong to, when the order number names one of the patient's.
    billing_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_order.id"))
    source: Mapped[ReportSource] = enum_column(ReportSource)
    status: Mapped[ReportStatus] = enum_column(ReportStatus, default=ReportStatus.ORDERED)
    release_rule: Mapped[ReleaseRule] = enum_column(ReleaseRule)
    release_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_version: Mapped[int] = mapped_column(default=1)
    # The newest version the patient may see; a pending amendment stays hidden until released.
    released_version: Mapped[int | None]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    first_viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship()
    versions: Mapped[list[LabReportVersion]] = relationship(
        back_populates="report", order_by="LabReportVersion.version", lazy="selectin"
    )

    @property
    def current(self) -> LabReportVersion:
        return self.version(self.current_version)

    def version(self, number: int | None) -> LabReportVersion:
        return next(v for v in self.versions if v.version == number)

    @property
    def released_versions(self) -> list[LabReportVersion]:
        """What the patient sees: every released version, newest first."""
        if self.released_version is None:
            return []
        return sorted(
            (v for v in self.versions if v.version <= self.released_version),
            key=lambda v: -v.version,
        )

    @property
    def is_released(self) -> bool:
        return self.released_at is not None


class LabReportVersion(Model):
    """One issued content of a report. Amendments add a version; none is ever changed or deleted."""

    __tablename__ = "lab_report_version"
    __table_args__ = (sa.UniqueConstraint("report_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("lab_report.id"), index=True)
    version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    created_by_device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("device.id"))
    amendment_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[str] = mapped_column(sa.String(100), default="")
    conclusion: Mapped[str] = mapped_column(sa.Text, default="")
    # An attached document (e.g. an imaging report PDF), kept with its fingerprint.
    document: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    document_type: Mapped[str] = mapped_column(sa.String(60), default="")
    document_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    # The PDF issued at release; its SHA-256 is checked on every download and by the QR page.
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verification_code: Mapped[str] = mapped_column(sa.String(32), unique=True)

    report: Mapped[LabReport] = relationship(back_populates="versions")
    items: Mapped[list[LabReportItem]] = relationship(
        order_by="LabReportItem.position", lazy="selectin"
    )


class LabReportItem(Model):
    """One result line: test, value, unit, reference range and abnormal flag."""

    __tablename__ = "lab_report_item"
    __table_args__ = (sa.UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("lab_report_version.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(sa.String(40), default="")
    name: Mapped[str] = mapped_column(sa.String(200))
    value: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(40), default="")
    reference_range: Mapped[str] = mapped_column(sa.String(80), default="")
    flag: Mapped[AbnormalFlag | None] = enum_column(AbnormalFlag, nullable=True)


class VisitSummary(Model):
    """One visit as the statistics see it, fed by scheduling, queueing and billing signals.

    Kept by reports so that a year of statistics is one indexed table scan, never a join across
    other modules' tables.
    """

    __tablename__ = "report_visit_summary"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "appointment_id"),
        sa.UniqueConstraint("hospital_id", "ticket_id"),
        sa.Index("ix_report_visit_summary_day", "hospital_id", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    appointment_id: Mapped[int | None]
    ticket_id: Mapped[int | None]
    service_date: Mapped[date] = mapped_column(sa.Date)
    department_id: Mapped[int | None]
    clinician_id: Mapped[int | None]
    booked: Mapped[bool] = mapped_column(default=False)
    booked_online: Mapped[bool] = mapped_column(default=False)
    cancelled: Mapped[bool] = mapped_column(default=False)
    no_show: Mapped[bool] = mapped_column(default=False)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[int | None]
    service_seconds: Mapped[int | None]
    # Where the patient queued, and who called them from which counter (staff productivity).
    service_point_id: Mapped[int | None]
    counter_id: Mapped[int | None]
    counter_code: Mapped[str | None] = mapped_column(sa.String(16))
    counter_point_id: Mapped[int | None]
    staff_account_id: Mapped[int | None]


class PaymentSummary(Model):
    """Money taken per order and day, for revenue and online payments in the statistics."""

    __tablename__ = "report_payment_summary"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "order_id"),
        sa.Index("ix_report_payment_summary_day", "hospital_id", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    order_id: Mapped[int]
    service_date: Mapped[date] = mapped_column(sa.Date)
    department_id: Mapped[int | None]
    clinician_id: Mapped[int | None]
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    online: Mapped[bool] = mapped_column(default=False)


class WaitAccuracySummary(Model):
    """How the wait ranges shown at one service point fared, per local day and hour shown."""

    __tablename__ = "report_wait_accuracy"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "service_point_id", "service_date", "hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    service_point_id: Mapped[int]
    service_date: Mapped[date] = mapped_column(sa.Date)
    hour: Mapped[int]
    shown: Mapped[int] = mapped_column(default=0)
    inside: Mapped[int] = mapped_column(default=0)
    abs_error_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class CounterPauseSummary(Model):
    """One pause of a counter, for the staff productivity figures."""

    __tablename__ = "report_counter_pause"
    __table_args__ = (
        sa.Index("ix_report_counter_pause_day", "hospital_id", "service_date"),
        sa.Index("ix_report_counter_pause_open", "counter_id", "resumed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    counter_id: Mapped[int]
    counter_code: Mapped[str] = mapped_column(sa.String(16))
    counter_point_id: Mapped[int]
    staff_account_id: Mapped[int | None]
    service_date: Mapped[date] = mapped_column(sa.Date)
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[int | None]


class SatisfactionSummary(Model):
    """One answered satisfaction survey, for the statistics by department and week."""

    __tablename__ = "report_satisfaction"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "survey_id"),
        sa.Index("ix_report_satisfaction_day", "hospital_id", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"))
    survey_id: Mapped[int]
    department_id: Mapped[int | None]
    service_date: Mapped[date] = mapped_column(sa.Date)
    wait_score: Mapped[int]
    staff_score: Mapped[int]
    overall_score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    via: Mapped[str] = mapped_column(sa.String(10), default="")
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
