"""The visit as the patient sees it: facts gathered from each package's public queries.

Nothing here writes; the access rule is hospital/patients/access.py (a denial is audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from consult.services import reading as consult_reading
from hospital.accounts.models import Account, Role
from hospital.audit.service import record_staff_read
from hospital.billing.references import OrderRef
from hospital.billing.services import queries as billing_queries
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import NotFound
from hospital.organisation.models import Hospital, ServicePoint
from hospital.patients.access import Permission, patients_acting_for, require_patient_access
from hospital.patients.identity import mask_name
from hospital.patients.models import Patient
from hospital.patients.services.records import look_up_at_desk
from hospital.visits import services as visits
from hospital.visits.codes import looks_like_visit_code
from hospital.visits.models import Visit
from hospital.zones import day_bounds, local_date, zone_for
from journey.steps import (
    AppointmentFact,
    ConsultFact,
    Entry,
    NextStep,
    OrderFact,
    OrderLine,
    Place,
    ReportFact,
    TicketFact,
    VisitFacts,
    next_step,
    timeline,
)
from queueing import queries as queue_queries
from reports.services import reading as report_reading
from scheduling.services import queries as scheduling_queries


@dataclass(frozen=True)
class VisitView:
    visit: Visit
    patient: Patient
    masked_name: str
    facts: VisitFacts
    next_step: NextStep
    timeline: list[Entry]


def place_of(point: ServicePoint | None) -> Place | None:
    if point is None:
        return None
    return Place(
        name_zh=point.name_zh,
        name_en=point.name_en,
        building=point.building,
        floor=point.floor,
        room=point.room,
        directions_zh=point.directions_zh,
        directions_en=point.directions_en,
    )


def _appointments(visit: Visit) -> tuple[AppointmentFact, ...]:
    found = []
    departments = scheduling_queries.departments_by_id(visit.hospital_id)
    for a in scheduling_queries.appointments_of_visit(
        visit.hospital_id, visit.patient_id, visit.service_date
    ):
        session = a.slot.session
        department = departments.get(session.department_id)
        clinician = scheduling_queries.clinician_in(visit.hospital_id, session.clinician_id)
        point = (
            db.session.get(ServicePoint, session.service_point_id)
            if session.service_point_id
            else None
        )
        paid_order = (
            billing_queries.order_for(visit.hospital_id, OrderRef.appointment(a.id))
            if a.fee_fen > 0
            else None
        )
        pending = (
            scheduling_queries.unpaid_registration_order(a) if a.state.value == "held" else None
        )
        found.append(
            AppointmentFact(
                id=a.id,
                state=a.state.value,
                starts_at=a.slot.starts_at,
                department_zh=department.name_zh if department else "",
                department_en=department.name_en if department else "",
                clinician_zh=clinician.name_zh if clinician else "",
                clinician_en=clinician.name_en if clinician else "",
                place=place_of(point),
                booked_at=a.booked_at,
                fee_fen=a.fee_fen,
                paid_at=paid_order.paid_at if paid_order is not None else None,
                pay_order_id=pending.id if pending is not None else None,
                checkin_opens_at=a.slot.starts_at
                - timedelta(minutes=session.checkin_opens_minutes),
            )
        )
    return tuple(found)


def _tickets(visit: Visit, *, now: datetime) -> tuple[TicketFact, ...]:
    found = []
    for t in queue_queries.tickets_of_patient_on(
        visit.hospital_id, visit.patient_id, visit.service_date
    ):
        point = t.queue.service_point
        state = queue_queries.ticket_state(t, now=now) if t.status.value == "waiting" else None
        eta = (state or {}).get("eta") or {}
        found.append(
            TicketFact(
                code=t.code,
                token=t.token,
                status=t.status.value,
                kind=t.kind.value,
                station=point.kind.value,
                place=place_of(point) or Place(name_zh="", name_en=""),
                issued_at=t.created_at,
                called_at=t.called_at,
                completed_at=t.finished_at,
                ahead=(state or {}).get("ahead"),
                eta_low=eta.get("low_minutes"),
                eta_high=eta.get("high_minutes"),
            )
        )
    return tuple(found)


def _orders(visit: Visit, start: datetime, end: datetime) -> tuple[OrderFact, ...]:
    return tuple(
        OrderFact(
            id=o.id,
            purpose=o.purpose.value,
            status=o.status.value,
            amount_fen=o.total_fen,
            created_at=o.created_at,
            paid_at=o.paid_at,
            lines=tuple(
                OrderLine(i.name_zh, i.name_en, i.category.value, i.amount_fen) for i in o.items
            ),
        )
        for o in billing_queries.orders_of_patient_between(
            visit.hospital_id, visit.patient_id, start, end
        )
    )


def _consultations(visit: Visit, start: datetime, end: datetime) -> tuple[ConsultFact, ...]:
    """The patient's online questions asked or answered on the visit's day (part of the record)."""
    return tuple(
        ConsultFact(c.id, c.created_at, c.answered_at)
        for c in consult_reading.consultations_of_patient(visit.hospital_id, visit.patient_id)
        if c.paid_at is not None
        and (
            start <= c.created_at < end
            or (c.answered_at is not None and start <= c.answered_at < end)
        )
    )


def _reports(
    visit: Visit, order_ids: list[int], start: datetime, end: datetime
) -> tuple[ReportFact, ...]:
    return tuple(
        ReportFact(
            public_id=r.public_id,
            title=r.test_name,
            ready=r.released_version is not None,
            released_at=r.released_at,
            received_at=r.received_at,
        )
        for r in report_reading.reports_of_visit(
            visit.hospital_id, visit.patient_id, order_ids=order_ids, start=start, end=end
        )
    )


def gather(visit: Visit, *, now: datetime) -> VisitFacts:
    """Everything of the visit's day, from scheduling, queueing, billing and reports."""
    hospital = db.session.get(Hospital, visit.hospital_id)
    assert hospital is not None, "a visit names an existing hospital"
    start, end = day_bounds(visit.service_date, zone_for(hospital))
    orders = _orders(visit, start, end)
    return VisitFacts(
        appointments=_appointments(visit),
        tickets=_tickets(visit, now=now),
        orders=orders,
        reports=_reports(visit, [o.id for o in orders if o.purpose == "visit"], start, end),
        consultations=_consultations(visit, start, end),
    )


def view_of(visit: Visit, patient: Patient, *, now: datetime) -> VisitView:
    facts = gather(visit, now=now)
    return VisitView(
        visit=visit,
        patient=patient,
        masked_name=mask_name(patient.name),
        facts=facts,
        next_step=next_step(facts),
        timeline=timeline(facts),
    )


def visit_for_viewer(code: str, *, actor: Account, now: datetime) -> VisitView:
    """The visit a code names, for the patient or a family account with the right to view it."""
    visit = visits.visit_by_code(code)
    if visit is None or visit.hospital_id != actor.hospital_id:
        visits.refuse_at_station(
            station="visit_page",
            reason="unknown" if visit is None else "other_hospital",
            hospital_id=actor.hospital_id,
            actor=actor,
            visit=visit,
        )
        raise NotFound("No such visit.", code=ErrorCode.VISIT_NOT_FOUND)
    patient = require_patient_access(
        actor, visit.patient_id, Permission.VIEW, action="journey.visit"
    )
    return view_of(visit, patient, now=now)


@dataclass(frozen=True)
class VisitSummary:
    visit: Visit
    masked_name: str
    is_today: bool


def visits_for_account(*, actor: Account, now: datetime) -> list[VisitSummary]:
    """Today's and coming visits of the patients this account acts for, today's first."""
    hospital = db.session.get(Hospital, actor.hospital_id)
    assert hospital is not None, "an account names an existing hospital"
    today = local_date(now, zone_for(hospital))
    patients = {p.id: p for p in patients_acting_for(actor, Permission.VIEW)}
    found = visits.visits_of_patients_since(actor.hospital_id, list(patients), today)
    return [
        VisitSummary(v, mask_name(patients[v.patient_id].name), v.service_date == today)
        for v in found
    ]


DESK_ROLES = (Role.REGISTRAR, Role.NURSE, Role.ADMIN, Role.CASHIER)


def desk_search(staff: Account, text: str, *, now: datetime) -> list[VisitView]:
    """The desk's lookup: a visit by its code, or a patient's visits (today on) by record or ID number.

    Every visit shown is audited as a staff read; a refused code is audited as a refusal.
    """
    text = (text or "").strip()
    if not text:
        return []
    if looks_like_visit_code(text):
        visit = visits.visit_at_staff_station(staff, text, station="desk", now=now)
        patient = db.session.get(Patient, visit.patient_id)
        assert patient is not None, "a visit names an existing patient"
        return [view_of(visit, patient, now=now)]
    patient = look_up_at_desk(staff=staff, text=text)
    if patient is None:
        raise NotFound(
            _l("No patient has this record or identity number. Check it."),
            code=ErrorCode.PATIENT_NOT_FOUND,
        )
    hospital = db.session.get(Hospital, staff.hospital_id)
    assert hospital is not None, "an account names an existing hospital"
    found = visits.visits_of_patients_since(
        staff.hospital_id, [patient.id], local_date(now, zone_for(hospital))
    )
    record_staff_read(
        actor=staff,
        action="visit.desk.read",
        object_type="visit",
        reads=[(v.id, v.patient_id) for v in found],
    )
    return [view_of(v, patient, now=now) for v in found]
