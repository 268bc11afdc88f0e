"""Offer every freed place to the first matching waiter, as a hold with a claim window.

A place comes free when an appointment ends (scheduling's `appointment_cancelled` signal: a
cancellation, a lapsed hold, a declined or lapsed offer), when a booking is rescheduled away, or
when places are added (an extra session). The receiver runs in the transaction that freed the
place, so the place is held for the waiter before anyone else can take it: a place is never both
offered and sold, and never offered twice (an offer is an appointment occupying the place).

Waiters are taken in the order they joined. On PostgreSQL concurrent freeings lock the waiter
they pick (`FOR UPDATE SKIP LOCKED`), so two transactions never offer to the same waiter.
Family rights, limits and suspensions are checked when the offer is made (the hold checks them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from hospital import zones
from hospital.accounts.models import Account
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, DomainError, NotFound
from hospital.notifications.messages import MessageTemplate
from hospital.notifications.service import notify_patient
from hospital.organisation.models import Clinician, Department
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.models import Patient
from scheduling.backfill import OfferSettings, band_of, claim_deadline, parse_quiet_hours, send_time
from scheduling.models import (
    Appointment,
    ClinicSession,
    FreedPlace,
    OfferState,
    SessionStatus,
    Slot,
    TimeBand,
    WaitlistEntry,
    WaitlistKind,
    WaitlistOffer,
    WaitlistState,
)
from scheduling.services import booking
from scheduling.services.places import release_lapsed_holds_on_slot
from scheduling.services.rules import hospital_zone

OFFER_MADE = "scheduling.waitlist_offer"

MESSAGE_TEMPLATES: dict[str, MessageTemplate] = {
    OFFER_MADE: MessageTemplate(
        subject=_l("A place is free for you"),
        body=_l(
            "{hospital}: a place with {clinician} ({department}) on {when} is free for {patient} "
            "from the waitlist. It is held for you until {until}: accept it at {link}"
        ),
    ),
}

_BUSY = "scheduling.waitlist.offering"
_PENDING = "scheduling.waitlist.pending"


def offer_settings() -> OfferSettings:
    """The offer rules from the settings (WAITLIST_*), or their defaults outside an app."""
    if not has_app_context():
        return OfferSettings()
    config = current_app.config
    start, end = parse_quiet_hours(str(config.get("WAITLIST_QUIET_HOURS", "22:00-07:00")))
    return OfferSettings(
        claim_minutes=int(config.get("WAITLIST_CLAIM_MINUTES", 15)),
        min_claim_minutes=int(config.get("WAITLIST_MIN_CLAIM_MINUTES", 5)),
        quiet_start=start,
        quiet_end=end,
        max_lapses=int(config.get("WAITLIST_MAX_LAPSES", 3)),
    )


# ---- making offers --------------------------------------------------------------------------


@contextmanager
def _offering() -> Iterator[bool]:
    """True for the outermost caller; a hold made for an offer may free places itself."""
    info = db.session.info
    outer = not info.get(_BUSY)
    info[_BUSY] = True
    try:
        yield outer
    finally:
        if outer:
            info.pop(_BUSY, None)
            info.pop(_PENDING, None)


def place_freed(
    slot_id: int, *, reason: str, now: datetime, freed_place_id: int | None = None
) -> WaitlistOffer | None:
    """A place in this slot came free: offer it to the next matching waiter, if any."""
    with _offering() as outer:
        if not outer:
            db.session.info.setdefault(_PENDING, []).append((slot_id, reason, freed_place_id))
            return None
        offer = _offer_freed(slot_id, reason=reason, now=now, freed_place_id=freed_place_id)
        pending = db.session.info.get(_PENDING, [])
        while pending:
            more_slot, more_reason, more_freed = pending.pop(0)
            _offer_freed(more_slot, reason=more_reason, now=now, freed_place_id=more_freed)
        return offer


def _offer_freed(
    slot_id: int, *, reason: str, now: datetime, freed_place_id: int | None
) -> WaitlistOffer | None:
    slot = db.session.get(Slot, slot_id, populate_existing=True)
    if slot is None:
        return None
    # Re-read: a session cancelled in this transaction changed behind the ORM's back.
    session = db.session.get_one(ClinicSession, slot.session_id, populate_existing=True)
    if session.status is not SessionStatus.OPEN or slot.closes_at <= now:
        return None
    freed = db.session.get(FreedPlace, freed_place_id) if freed_place_id else None
    if freed is None:
        if not _has_waiters(slot, session):
            return None
        freed = FreedPlace(
            hospital_id=slot.hospital_id,
            slot_id=slot.id,
            session_id=session.id,
            reason=reason[:40],
            freed_at=now,
        )
        db.session.add(freed)
        db.session.flush()
    return _offer_place(slot, session, freed, now=now)


def _candidates(
    slot: Slot, session: ClinicSession, *, tried: set[int], limit: int, lock: bool = True
) -> sa.Select[tuple[WaitlistEntry]]:
    zone = hospital_zone(slot.hospital_id)
    band = band_of(slot.starts_at.astimezone(zone).time())
    query = (
        sa.select(WaitlistEntry)
        .where(
            WaitlistEntry.hospital_id == slot.hospital_id,
            WaitlistEntry.state == WaitlistState.WAITING,
            WaitlistEntry.first_date <= slot.local_date,
            WaitlistEntry.last_date >= slot.local_date,
            sa.or_(
                sa.and_(
                    WaitlistEntry.kind == WaitlistKind.SESSION,
                    WaitlistEntry.session_id == session.id,
                ),
                sa.and_(
                    WaitlistEntry.kind == WaitlistKind.CLINICIAN,
                    WaitlistEntry.clinician_id == session.clinician_id,
                ),
                sa.and_(
                    WaitlistEntry.kind == WaitlistKind.DEPARTMENT,
                    WaitlistEntry.department_id == session.department_id,
                ),
            ),
            WaitlistEntry.band.in_((TimeBand.ANY, band)),
            sa.or_(WaitlistEntry.fee_class.is_(None), WaitlistEntry.fee_class == session.fee_class),
        )
        .order_by(WaitlistEntry.joined_at, WaitlistEntry.id)
        .limit(limit)
    )
    if tried:
        query = query.where(WaitlistEntry.id.not_in(tried))
    if lock and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WaitlistEntry)
    return query


def _has_waiters(slot: Slot, session: ClinicSession) -> bool:
    query = _candidates(slot, session, tried=set(), limit=1, lock=False)
    return db.session.scalar(query.with_only_columns(WaitlistEntry.id)) is not None


def _offer_place(
    slot: Slot, session: ClinicSession, freed: FreedPlace, *, now: datetime
) -> WaitlistOffer | None:
    settings = offer_settings()
    notify_at = send_time(hospital_zone(slot.hospital_id), settings, now=now)
    expires_at = claim_deadline(
        notify_at, starts_at=slot.starts_at, closes_at=slot.closes_at, settings=settings
    )
    if expires_at is None or slot.booked >= slot.capacity:
        return None
    # A waiter is offered a given slot once: whoever declined or let it lapse is not asked again.
    tried = set(
        db.session.scalars(
            sa.select(WaitlistOffer.entry_id).where(WaitlistOffer.slot_id == slot.id)
        ).all()
    )
    while True:
        # One waiter at a time: FOR UPDATE locks every row it returns, and a row locked here is
        # skipped by concurrent freeings, so locking more than the one tried would push them
        # further down the line.
        entries = db.session.scalars(_candidates(slot, session, tried=tried, limit=1)).all()
        if not entries:
            return None
        for entry in entries:
            tried.add(entry.id)
            appointment = _hold_for(entry, slot, now=now, until=expires_at)
            if appointment is None:
                continue
            offer = WaitlistOffer(
                hospital_id=slot.hospital_id,
                entry_id=entry.id,
                freed_place_id=freed.id,
                slot_id=slot.id,
                appointment_id=appointment.id,
                state=OfferState.OFFERED,
                offered_at=now,
                notify_at=notify_at,
                expires_at=expires_at,
            )
            entry.state = WaitlistState.OFFERED
            db.session.add(offer)
            db.session.flush()
            if notify_at <= now:
                _send(offer, appointment, now=now)
            return offer


def _hold_for(entry: WaitlistEntry, slot: Slot, *, now: datetime, until: datetime) -> Any:
    """Hold the place for the waiter, as the account that put them on the list; None if refused."""
    account = db.session.get(Account, entry.account_id)
    if account is None or not account.is_active:
        return None
    try:
        with db.session.begin_nested():
            return booking.hold(
                actor=account,
                patient_id=entry.patient_id,
                slot_id=slot.id,
                now=now,
                hold_until=until,
            )
    except DomainError:
        # Not allowed now (a right withdrawn, a limit reached, suspended): the next waiter.
        return None


def _send(offer: WaitlistOffer, appointment: Appointment, *, now: datetime) -> None:
    from scheduling import notices

    patient, context = notices.message_context(appointment)
    zone = hospital_zone(offer.hospital_id)
    context["until"] = offer.expires_at.astimezone(zone).strftime("%H:%M")
    base = str(current_app.config.get("PUBLIC_URL", "")).rstrip("/") if has_app_context() else ""
    context["link"] = f"{base}/waitlist/offers/{offer.id}"
    notify_patient(
        patient,
        OFFER_MADE,
        context,
        now=now,
        dedupe_key=f"waitlist-offer:{offer.id}",
        family_permission=Permission.BOOK,
    )
    offer.notified_at = now


def offer_free_places(session_id: int, *, reason: str, now: datetime) -> int:
    """Offer every free place of a session to its waiters (places added, the catch-up sweep)."""
    made = 0
    slot_ids = db.session.scalars(
        sa.select(Slot.id)
        .where(Slot.session_id == session_id, Slot.closes_at > now)
        .order_by(Slot.starts_at)
    ).all()
    for slot_id in slot_ids:
        release_lapsed_holds_on_slot(slot_id, now=now)
        while True:
            slot = db.session.get(Slot, slot_id, populate_existing=True)
            if slot is None or slot.booked >= slot.capacity:
                break
            if place_freed(slot_id, reason=reason, now=now) is None:
                break
            made += 1
    return made


# ---- answers --------------------------------------------------------------------------------


def _offer_for(offer_id: int, *, actor: Account) -> WaitlistOffer:
    offer = db.session.get(WaitlistOffer, offer_id)
    if offer is None or offer.hospital_id != actor.hospital_id:
        raise NotFound(_l("No such offer."), code=ErrorCode.WAITLIST_OFFER_NOT_FOUND)
    require_patient_access(
        actor, offer.entry.patient_id, Permission.BOOK, action="scheduling.waitlist_offer"
    )
    return offer


def _closed() -> Conflict:
    return Conflict(
        _l("This offer has been answered or has lapsed."), code=ErrorCode.WAITLIST_OFFER_CLOSED
    )


def get_offer(offer_id: int, *, actor: Account, now: datetime) -> WaitlistOffer:
    """An offer the account may answer (lapsed ones are passed on first)."""
    offer = _offer_for(offer_id, actor=actor)
    if offer.state is OfferState.OFFERED and offer.expires_at <= now:
        release_lapsed_holds_on_slot(offer.slot_id, now=now)
        db.session.refresh(offer)
    return offer


@dataclass(frozen=True)
class OfferDetails:
    patient_name: str
    clinician: Clinician | None
    department: Department | None
    starts_at: datetime
    fee_fen: int


def offer_details(offer: WaitlistOffer) -> OfferDetails:
    """What an offer page shows: whose place, with whom, when, for how much."""
    appointment = db.session.get_one(Appointment, offer.appointment_id)
    session = appointment.slot.session
    patient = db.session.get_one(Patient, appointment.patient_id)
    return OfferDetails(
        patient_name=patient.name,
        clinician=db.session.get(Clinician, session.clinician_id) if session.clinician_id else None,
        department=db.session.get(Department, session.department_id),
        starts_at=appointment.slot.starts_at,
        fee_fen=appointment.fee_fen,
    )


def accept(offer_id: int, *, actor: Account, now: datetime) -> Appointment:
    """Claim an offered place: a free one is booked now, a fee-bearing one when it is paid."""
    offer = get_offer(offer_id, actor=actor, now=now)
    if offer.state is not OfferState.OFFERED or offer.notify_at > now:
        raise _closed()
    appointment = db.session.get_one(Appointment, offer.appointment_id)
    if appointment.fee_fen > 0:
        return appointment  # the caller pays its order: the payment books it
    return booking.confirm(appointment.id, actor=actor, now=now)


def decline(offer_id: int, *, actor: Account, now: datetime) -> WaitlistOffer:
    """Turn an offer down: the place goes to the next waiter at once; the entry keeps waiting."""
    from scheduling.services import changes

    offer = get_offer(offer_id, actor=actor, now=now)
    if offer.state is not OfferState.OFFERED:
        raise _closed()
    changes.cancel(offer.appointment_id, actor=actor, now=now, reason="declined")
    db.session.refresh(offer)
    return offer


# ---- receivers (scheduling.wiring connects them) --------------------------------------------


def on_appointment_cancelled(_sender: Any, **kw: Any) -> None:
    """An appointment ended without being served: close its offer, pass the place on."""
    appointment_id = int(kw["appointment_id"])
    now: datetime = kw["now"]
    reason = str(kw.get("reason", ""))
    row = db.session.execute(
        sa.select(Appointment.slot_id, WaitlistOffer)
        .outerjoin(
            WaitlistOffer,
            sa.and_(
                WaitlistOffer.appointment_id == Appointment.id,
                WaitlistOffer.state == OfferState.OFFERED,
            ),
        )
        .where(Appointment.id == appointment_id)
    ).first()
    if row is None:
        return
    slot_id, offer = row
    freed_place_id = None
    if offer is not None:
        _close_offer(offer, reason=reason, now=now)
        freed_place_id = offer.freed_place_id
    place_freed(slot_id, reason=reason, now=now, freed_place_id=freed_place_id)


def _close_offer(offer: WaitlistOffer, *, reason: str, now: datetime) -> None:
    entry = offer.entry
    offer.decided_at = now
    if reason == "expired":
        offer.state = OfferState.LAPSED
        entry.lapses += 1
        if entry.lapses >= offer_settings().max_lapses:
            entry.state, entry.ended_at = WaitlistState.REMOVED, now
        elif entry.state is WaitlistState.OFFERED:
            entry.state = WaitlistState.WAITING
    else:
        offer.state = OfferState.DECLINED if reason == "patient_cancelled" else OfferState.WITHDRAWN
        if entry.state is WaitlistState.OFFERED:
            entry.state = WaitlistState.WAITING
    db.session.flush()


def on_appointment_booked(_sender: Any, **kw: Any) -> None:
    """A held place was booked: if it was an offer, the waiter has their place."""
    offer = db.session.scalar(
        sa.select(WaitlistOffer).where(
            WaitlistOffer.appointment_id == int(kw["appointment_id"]),
            WaitlistOffer.state.in_((OfferState.OFFERED, OfferState.LAPSED)),
        )
    )
    if offer is None:
        return
    now: datetime = kw["now"]
    offer.state, offer.decided_at = OfferState.ACCEPTED, now
    entry = offer.entry
    entry.state, entry.ended_at = WaitlistState.FULFILLED, now
    if offer.freed_place_id is not None:
        freed = db.session.get_one(FreedPlace, offer.freed_place_id)
        freed.rebooked_at = freed.rebooked_at or now
    db.session.flush()


# ---- sweeps (jobs: run late or twice, they do the same thing once) --------------------------


def send_due_offers(*, now: datetime) -> int:
    """Send the offers made during the quiet hours once they end."""
    offers = db.session.scalars(
        sa.select(WaitlistOffer)
        .where(
            WaitlistOffer.state == OfferState.OFFERED,
            WaitlistOffer.notified_at.is_(None),
            WaitlistOffer.notify_at <= now,
        )
        .order_by(WaitlistOffer.notify_at, WaitlistOffer.id)
    ).all()
    for offer in offers:
        _send(offer, db.session.get_one(Appointment, offer.appointment_id), now=now)
    db.session.flush()
    return len(offers)


def expire_lapsed_offers(*, now: datetime) -> int:
    """Let offers past their window lapse, which passes each place to the next waiter."""
    slot_ids = db.session.scalars(
        sa.select(WaitlistOffer.slot_id)
        .where(WaitlistOffer.state == OfferState.OFFERED, WaitlistOffer.expires_at <= now)
        .distinct()
    ).all()
    return sum(release_lapsed_holds_on_slot(slot_id, now=now) for slot_id in slot_ids)


def offer_missed_places(*, now: datetime, horizon_days: int = 14) -> int:
    """Catch up: offer free places in sessions that have waiters (outside the quiet hours)."""
    settings = offer_settings()
    made = 0
    hospital_ids = db.session.scalars(
        sa.select(WaitlistEntry.hospital_id)
        .where(WaitlistEntry.state == WaitlistState.WAITING)
        .distinct()
    ).all()
    for hospital_id in hospital_ids:
        zone = hospital_zone(hospital_id)
        if send_time(zone, settings, now=now) > now:
            continue
        today = zones.local_date(now, zone)
        session_ids = db.session.scalars(
            sa.select(ClinicSession.id)
            .where(
                ClinicSession.hospital_id == hospital_id,
                ClinicSession.status == SessionStatus.OPEN,
                ClinicSession.local_date >= today,
                ClinicSession.local_date <= today + timedelta(days=horizon_days),
                ClinicSession.release_at <= now,
                sa.exists().where(
                    Slot.session_id == ClinicSession.id,
                    Slot.booked < Slot.capacity,
                    Slot.closes_at > now,
                ),
            )
            .order_by(ClinicSession.starts_at)
        ).all()
        for session_id in session_ids:
            made += offer_free_places(session_id, reason="sweep", now=now)
    return made


def offers_for_patient_home(*, actor: Account, now: datetime) -> list[WaitlistOffer]:
    """Live offers for the patients this account books for (the home page shows them)."""
    from hospital.patients.access import patients_acting_for

    patient_ids = [p.id for p in patients_acting_for(actor, Permission.BOOK)]
    if not patient_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(WaitlistOffer)
            .join(WaitlistEntry, WaitlistEntry.id == WaitlistOffer.entry_id)
            .where(
                WaitlistEntry.patient_id.in_(patient_ids),
                WaitlistOffer.state == OfferState.OFFERED,
                WaitlistOffer.notify_at <= now,
                WaitlistOffer.expires_at > now,
            )
            .order_by(WaitlistOffer.expires_at)
        ).all()
    )
