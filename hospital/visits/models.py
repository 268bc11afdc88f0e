"""The visit: one patient's day at one hospital, named by one opaque code (就诊码)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hospital.db import Model, UTCDateTime, utcnow


class Visit(Model):
    """A patient's visit on one service day: the appointment, tickets, orders and reports of it.

    The rest of the visit is found by (hospital, patient, service date), so a ticket or order
    that another package makes for the patient that day belongs to it without a stored link.
    The physical stops the visit replaced are counted here from the visit's own events.
    """

    __tablename__ = "visit"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "patient_id", "service_date"),
        sa.UniqueConstraint("code"),  # random, so unique across hospitals too
        sa.CheckConstraint("station_numbers >= 0", name="station_numbers_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    service_date: Mapped[date] = mapped_column(sa.Date)
    code: Mapped[str] = mapped_column(sa.String(32))
    # The clinic of the visit (its first booking or check-in), for the per-department figures.
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Physical stops replaced (queues avoided), set once by the visit's events.
    registration_online: Mapped[bool] = mapped_column(default=False)
    paid_online: Mapped[bool] = mapped_column(default=False)
    virtual_queue: Mapped[bool] = mapped_column(default=False)
    report_online: Mapped[bool] = mapped_column(default=False)
    station_numbers: Mapped[int] = mapped_column(default=0)

    @property
    def stops_avoided(self) -> int:
        """Physical stops this visit did not stand in: windows, cashier, hall, number-taking."""
        return (
            int(self.registration_online)
            + int(self.paid_online)
            + int(self.virtual_queue)
            + int(self.report_online)
            + self.station_numbers
        )
