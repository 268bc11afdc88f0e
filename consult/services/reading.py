"""Read consultations: a family's list, a clinician's inbox and one question with its context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from consult.models import WAITING_FOR_CLINICIAN, Consultation, ConsultStatus
from consult.services import access
from consult.services.offers import clinician_of_account
from hospital.accounts.models import Account
from hospital.audit.service import record_staff_read
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.models import Patient
from hospital.visits.services import hospital_day
from reports.services import reading as report_reading
from scheduling.services import queries as scheduling_queries


def consultations_for_account(*, actor: Account) -> list[Consultation]:
    """The consultations of every patient this account asks for, newest first."""
    ids = [p.id for p in patients_acting_for(actor, Permission.BOOK)]
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Consultation)
            .where(Consultation.hospital_id == actor.hospital_id, Consultation.patient_id.in_(ids))
            .order_by(Consultation.created_at.desc(), Consultation.id.desc())
        )
    )


def consultations_of_patient(hospital_id: int, patient_id: int) -> list[Consultation]:
    """One patient's consultations, oldest first (their record: the visit page's timeline)."""
    return list(
        db.session.scalars(
            sa.select(Consultation)
            .where(Consultation.hospital_id == hospital_id, Consultation.patient_id == patient_id)
            .order_by(Consultation.created_at, Consultation.id)
        )
    )


def _require_clinician(*, actor: Account) -> int:
    clinician = clinician_of_account(actor)
    if clinician is None:
        raise Forbidden(
            _l("Only a doctor with a clinician profile has an inbox of online questions."),
            code=ErrorCode.ROLE_REQUIRED,
        )
    return clinician.id


@dataclass(frozen=True)
class Waiting:
    """How many questions wait for the clinician's first answer, and the nearest deadline."""

    count: int
    nearest_due: datetime | None


def waiting_for(*, actor: Account) -> Waiting | None:
    """The signed-in clinician's unanswered questions (None: the account is no clinician).

    Counts only, no patient's data: not audited (the inbox it leads to is).
    """
    clinician = clinician_of_account(actor)
    if clinician is None:
        return None
    count, nearest = db.session.execute(
        sa.select(sa.func.count(Consultation.id), sa.func.min(Consultation.answer_due_at)).where(
            Consultation.clinician_id == clinician.id,
            Consultation.status == ConsultStatus.OPEN,
        )
    ).one()
    return Waiting(count=int(count or 0), nearest_due=nearest)


def inbox(*, actor: Account) -> list[Consultation]:
    """The clinician's open and answered consultations, the nearest deadline first."""
    clinician_id = _require_clinician(actor=actor)
    rows = list(
        db.session.scalars(
            sa.select(Consultation)
            .where(
                Consultation.clinician_id == clinician_id,
                Consultation.status.in_(WAITING_FOR_CLINICIAN),
            )
            .order_by(
                Consultation.answer_due_at.is_(None),
                Consultation.answered_at.is_not(None),
                Consultation.answer_due_at,
                Consultation.id,
            )
        )
    )
    record_staff_read(
        actor=actor,
        action="consult.inbox.read",
        object_type="consultation",
        reads=[(c.id, c.patient_id) for c in rows],
    )
    return rows


@dataclass
class CaseView:
    """A question with what the clinician needs beside it."""

    consultation: Consultation
    patient: Patient
    as_clinician: bool
    recent_visits: list[tuple[Any, Any, Any]] = field(default_factory=list)
    released_reports: list[Any] = field(default_factory=list)


def case(consultation_id: int, *, actor: Account, now: datetime) -> CaseView:
    """One consultation; for its clinician, also the patient's recent visits and released reports."""
    consultation, as_clinician = access.for_reader(consultation_id, actor=actor)
    patient = db.session.get(Patient, consultation.patient_id)
    assert patient is not None, "a consultation names an existing patient"
    view = CaseView(consultation=consultation, patient=patient, as_clinician=as_clinician)
    if as_clinician:
        days = int(current_app.config["CONSULT_RECENT_VISIT_DAYS"])
        since = hospital_day(consultation.hospital_id, now) - timedelta(days=days)
        view.recent_visits = scheduling_queries.recent_appointments_seen(
            consultation.hospital_id, patient.id, since=since
        )
        view.released_reports = [
            r
            for r in report_reading.reports_of_visit(
                consultation.hospital_id,
                patient.id,
                order_ids=[],
                start=now - timedelta(days=days),
                end=now,
            )
            if r.is_released
        ]
        record_staff_read(
            actor=actor,
            action="consult.case.read",
            object_type="patient",
            reads=[(patient.id, patient.id)],
            detail={"consultation": consultation.id},
        )
    return view
