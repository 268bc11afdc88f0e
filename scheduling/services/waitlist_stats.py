"""Waitlist figures: places freed and re-booked, the share re-booked, minutes to re-book, offers
sent, accepted, declined and lapsed (the statistics page and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from hospital.db import db
from scheduling.models import (
    Appointment,
    AppointmentState,
    FreedPlace,
    OfferState,
    WaitlistOffer,
)

# ---- statistics -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillStats:
    freed: int
    rebooked: int
    rebooked_share: float | None
    median_minutes_to_rebook: float | None
    offers_sent: int
    offers_accepted: int
    offers_declined: int
    offers_lapsed: int
    waitlist_no_show_rate: float | None
    other_no_show_rate: float | None


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def statistics(*, hospital_id: int, since: datetime, until: datetime) -> BackfillStats:
    """How well freed places between two times were re-booked from the waitlist."""
    freed = db.session.execute(
        sa.select(FreedPlace.freed_at, FreedPlace.rebooked_at).where(
            FreedPlace.hospital_id == hospital_id,
            FreedPlace.freed_at >= since,
            FreedPlace.freed_at < until,
        )
    ).all()
    waits = [(r - f).total_seconds() / 60 for f, r in freed if r is not None]
    counts: dict[OfferState, int] = dict(
        db.session.execute(  # type: ignore[arg-type]
            sa.select(WaitlistOffer.state, sa.func.count())
            .where(
                WaitlistOffer.hospital_id == hospital_id,
                WaitlistOffer.offered_at >= since,
                WaitlistOffer.offered_at < until,
            )
            .group_by(WaitlistOffer.state)
        ).all()
    )
    from_waitlist = sa.select(WaitlistOffer.appointment_id).where(
        WaitlistOffer.state == OfferState.ACCEPTED
    )
    attended = (AppointmentState.CHECKED_IN, AppointmentState.COMPLETED, AppointmentState.NO_SHOW)

    def no_show_rate(waitlisted: bool) -> float | None:
        ids = Appointment.id.in_(from_waitlist)
        rows: dict[AppointmentState, int] = dict(
            db.session.execute(  # type: ignore[arg-type]
                sa.select(Appointment.state, sa.func.count())
                .where(
                    Appointment.hospital_id == hospital_id,
                    Appointment.booked_at >= since,
                    Appointment.booked_at < until,
                    Appointment.state.in_(attended),
                    ids if waitlisted else ~ids,
                )
                .group_by(Appointment.state)
            ).all()
        )
        total = sum(rows.values())
        return rows.get(AppointmentState.NO_SHOW, 0) / total if total else None

    rebooked = len(waits)
    return BackfillStats(
        freed=len(freed),
        rebooked=rebooked,
        rebooked_share=rebooked / len(freed) if freed else None,
        median_minutes_to_rebook=_median(waits),
        offers_sent=sum(counts.values()),
        offers_accepted=counts.get(OfferState.ACCEPTED, 0),
        offers_declined=counts.get(OfferState.DECLINED, 0),
        offers_lapsed=counts.get(OfferState.LAPSED, 0),
        waitlist_no_show_rate=no_show_rate(True),
        other_no_show_rate=no_show_rate(False),
    )
