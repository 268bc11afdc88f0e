"""Which clinicians a patient may ask, on what terms, and each clinician's own settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from consult.models import Consultation, ConsultSetting, ConsultStatus
from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, NotFound
from hospital.organisation.models import Clinician
from hospital.visits.services import hospital_day
from hospital.zones import day_bounds, zone_for
from scheduling.services import queries as scheduling_queries


@dataclass(frozen=True)
class Offer:
    """A clinician's terms for online consultations (their settings, or the hospital defaults)."""

    clinician: Clinician
    is_offered: bool
    open_to_all: bool
    fee_fen: int
    answer_hours: int
    daily_cap: int
    saw_patient: bool = False


def _setting(clinician_id: int) -> ConsultSetting | None:
    return db.session.scalar(
        sa.select(ConsultSetting).where(ConsultSetting.clinician_id == clinician_id)
    )


def offer_of(clinician: Clinician, *, saw_patient: bool = False) -> Offer:
    setting = _setting(clinician.id)
    config = current_app.config
    if setting is None:
        return Offer(
            clinician=clinician,
            is_offered=True,
            open_to_all=False,
            fee_fen=int(config["CONSULT_DEFAULT_FEE_FEN"]),
            answer_hours=int(config["CONSULT_DEFAULT_ANSWER_HOURS"]),
            daily_cap=int(config["CONSULT_DEFAULT_DAILY_CAP"]),
            saw_patient=saw_patient,
        )
    return Offer(
        clinician=clinician,
        is_offered=setting.is_offered,
        open_to_all=setting.open_to_all,
        fee_fen=setting.fee_fen,
        answer_hours=setting.answer_hours,
        daily_cap=setting.daily_cap,
        saw_patient=saw_patient,
    )


def recent_clinician_ids(hospital_id: int, patient_id: int, *, now: datetime) -> set[int]:
    days = int(current_app.config["CONSULT_RECENT_VISIT_DAYS"])
    since = hospital_day(hospital_id, now) - timedelta(days=days)
    return scheduling_queries.clinicians_who_saw(hospital_id, patient_id, since=since)


def offers_for_patient(hospital_id: int, patient_id: int, *, now: datetime) -> list[Offer]:
    """The clinicians this patient may ask now: those who saw them lately first, then the rest."""
    seen = recent_clinician_ids(hospital_id, patient_id, now=now)
    offers = []
    for clinician in scheduling_queries.clinicians_of(hospital_id, active_only=True):
        offer = offer_of(clinician, saw_patient=clinician.id in seen)
        if offer.is_offered and (offer.open_to_all or offer.saw_patient):
            offers.append(offer)
    return sorted(offers, key=lambda o: (not o.saw_patient, o.clinician.id))


def eligible_offer(hospital_id: int, patient_id: int, clinician_id: int, *, now: datetime) -> Offer:
    """The clinician's offer to this patient, or a refusal saying why not."""
    clinician = scheduling_queries.clinician_in(hospital_id, clinician_id)
    if clinician is None or not clinician.is_active:
        raise _unavailable()
    seen = clinician.id in recent_clinician_ids(hospital_id, patient_id, now=now)
    offer = offer_of(clinician, saw_patient=seen)
    if not offer.is_offered or not (offer.open_to_all or offer.saw_patient):
        raise _unavailable()
    if offer.daily_cap <= asked_today(clinician, now=now):
        raise Forbidden(
            _l("This doctor takes no more questions today. Please ask tomorrow or another doctor."),
            code=ErrorCode.CONSULT_DAILY_CAP,
        )
    return offer


def asked_today(clinician: Clinician, *, now: datetime) -> int:
    start, end = day_bounds(
        hospital_day(clinician.hospital_id, now), zone_for(clinician.department.hospital)
    )
    return int(
        db.session.scalar(
            sa.select(sa.func.count(Consultation.id)).where(
                Consultation.clinician_id == clinician.id,
                Consultation.created_at >= start,
                Consultation.created_at < end,
                Consultation.status != ConsultStatus.EXPIRED,
            )
        )
        or 0
    )


def _unavailable() -> Forbidden:
    return Forbidden(
        _l(
            "This doctor does not take online questions from this patient. Ask a doctor who saw "
            "the patient lately, or one who offers online consultations."
        ),
        code=ErrorCode.CONSULT_CLINICIAN_UNAVAILABLE,
    )


def clinician_of_account(account: Account) -> Clinician | None:
    """The clinician record of a staff account (a clinician signs in with their own account)."""
    if not account.has_role(Role.CLINICIAN):
        return None
    return db.session.scalar(
        sa.select(Clinician).where(
            Clinician.account_id == account.id, Clinician.hospital_id == account.hospital_id
        )
    )


def _settable(clinician_id: int, *, actor: Account) -> Clinician:
    clinician = scheduling_queries.clinician_in(actor.hospital_id, clinician_id)
    if clinician is None:
        raise NotFound(_l("No clinician with this id."), code=ErrorCode.NOT_FOUND)
    own = clinician.account_id == actor.id and actor.has_role(Role.CLINICIAN)
    if not (own or actor.has_role(Role.ADMIN)):
        raise Forbidden(
            _l("Only an administrator or the doctor can change these settings."),
            code=ErrorCode.ROLE_REQUIRED,
        )
    return clinician


def hospital_terms(*, actor: Account) -> list[Offer]:
    """An administrator's view of every clinician's terms in their hospital."""
    if not actor.has_role(Role.ADMIN):
        raise Forbidden(
            _l("Only an administrator sees every doctor's settings."),
            code=ErrorCode.ROLE_REQUIRED,
        )
    return [offer_of(c) for c in scheduling_queries.clinicians_of(actor.hospital_id)]


def setting_for(clinician_id: int, *, actor: Account) -> Offer:
    """An admin's or the clinician's own view of the clinician's terms."""
    return offer_of(_settable(clinician_id, actor=actor))


def update_setting(
    clinician_id: int,
    *,
    actor: Account,
    is_offered: bool,
    open_to_all: bool,
    fee_fen: int,
    answer_hours: int,
    daily_cap: int,
    now: datetime,
) -> Offer:
    """An admin, or the clinician themself, sets the clinician's consultation terms."""
    clinician = _settable(clinician_id, actor=actor)
    setting = _setting(clinician.id)
    if setting is None:
        setting = ConsultSetting(hospital_id=clinician.hospital_id, clinician_id=clinician.id)
        db.session.add(setting)
    setting.is_offered = is_offered
    setting.open_to_all = open_to_all
    setting.fee_fen = fee_fen
    setting.answer_hours = answer_hours
    setting.daily_cap = daily_cap
    setting.updated_at = now
    db.session.flush()
    record(
        action="consult.settings_changed",
        actor=actor,
        object_type="clinician",
        object_id=str(clinician.id),
        detail={"is_offered": is_offered, "fee_fen": fee_fen, "answer_hours": answer_hours},
    )
    return offer_of(clinician)
