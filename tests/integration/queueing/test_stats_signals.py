"""Queueing reports check-in, first call, start and completion of each ticket exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from blinker import Signal

from hospital import events
from hospital.db import db
from queueing.services import calling, issuing, serving
from reports.models import VisitSummary
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
TICKET_SIGNALS = (
    events.visit_checked_in,
    events.ticket_first_called,
    events.ticket_serving_started,
    events.ticket_completed,
)


@contextmanager
def recording(*signals: Signal) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Collect (signal name, kwargs) of every send while the block runs; disconnect afterwards."""
    seen: list[tuple[str, dict[str, Any]]] = []
    receivers = []
    for signal in signals:

        def receiver(_sender: Any, _name: str = str(signal.name), **kw: Any) -> None:
            kw.pop("fold", None)  # how a receiver may hand back its statement (hospital.events)
            seen.append((_name, kw))

        signal.connect(receiver)
        receivers.append((signal, receiver))
    try:
        yield seen
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)


@pytest.fixture
def point(hospital, create_department, create_service_point):
    return create_service_point(hospital, department=create_department(hospital))


@pytest.fixture
def queue(point):
    return qf.open_queue(point, now=NOW)


@pytest.fixture
def counter(point):
    return qf.create_counter(point)


def _by(counter, account_id=None):
    """The first call's counter and staff kwargs (for the productivity figures)."""
    return {
        "counter_id": counter.id,
        "counter_code": counter.code,
        "counter_point_id": counter.service_point_id,
        "account_id": account_id,
    }


def _call(hospital, counter, now):
    return calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=now)


def test_a_walk_in_reports_each_step_once_with_its_kwargs(hospital, point, queue, counter):
    at = [NOW + timedelta(minutes=m) for m in (0, 10, 11, 20)]
    with recording(*TICKET_SIGNALS) as seen:
        ticket = qf.walk_in(hospital, point, now=at[0])
        _call(hospital, counter, at[1])
        _call(hospital, counter, at[1])  # a double-click returns the same ticket
        serving.start(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=at[2])
        serving.start(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=at[2])
        serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=at[3])
    ids = {"ticket_id": ticket.id, "hospital_id": hospital.id}
    assert seen == [
        (
            "visit-checked-in",
            {
                "appointment_id": None,
                **ids,
                "department_id": point.department_id,
                "clinician_id": None,
                "patient_id": None,
                "service_point_id": point.id,
                "now": at[0],
            },
        ),
        ("ticket-first-called", {**ids, "now": at[1], **_by(counter)}),
        ("ticket-serving-started", {**ids, "now": at[2]}),
        ("ticket-completed", {**ids, "now": at[3]}),
    ]
    assert point.department_id is not None


def test_recalls_and_calls_after_a_miss_or_a_lapsed_lease_report_no_first_call(
    hospital, point, queue, counter
):
    queue.max_misses = 3
    with recording(events.ticket_first_called) as seen:
        ticket = qf.walk_in(hospital, point, now=NOW)
        _call(hospital, counter, NOW)
        calling.recall(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
        calling.mark_missed(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
        again = _call(hospital, counter, NOW + timedelta(minutes=1))
        assert again.ticket.id == ticket.id
        later = NOW + timedelta(minutes=1, seconds=queue.lease_seconds + 1)
        assert calling.release_expired_leases(now=later) == 1
        assert _call(hospital, counter, later).ticket.id == ticket.id
    assert seen == [
        (
            "ticket-first-called",
            {"ticket_id": ticket.id, "hospital_id": hospital.id, "now": NOW, **_by(counter)},
        )
    ]
    assert ticket.call_count == 4


def test_a_ticket_called_out_of_order_reports_its_first_call(
    hospital, point, queue, counter, create_account
):
    from hospital.accounts.models import Role

    nurse = create_account(hospital, roles=(Role.NURSE,))
    qf.walk_in(hospital, point, now=NOW)
    second = qf.walk_in(hospital, point, now=NOW)
    with recording(events.ticket_first_called) as seen:
        calling.call_ticket(
            actor=nurse,
            hospital_id=hospital.id,
            counter_id=counter.id,
            ticket_id=second.id,
            reason="wheelchair",
            now=NOW,
        )
    assert [kw["ticket_id"] for _name, kw in seen] == [second.id]


def test_checking_in_an_appointment_twice_reports_one_check_in_with_its_clinic(
    hospital, point, book_at
):
    appointment, clinician, slot = book_at(point)
    arrive = slot.starts_at - timedelta(minutes=20)
    with recording(events.visit_checked_in) as seen:
        ticket, _ = issuing.check_in(
            actor=None, hospital_id=hospital.id, appointment_id=appointment.id, now=arrive
        )
        issuing.check_in(
            actor=None, hospital_id=hospital.id, appointment_id=appointment.id, now=arrive
        )
    assert seen == [
        (
            "visit-checked-in",
            {
                "appointment_id": appointment.id,
                "ticket_id": ticket.id,
                "hospital_id": hospital.id,
                "department_id": clinician.department_id,
                "clinician_id": clinician.id,
                "patient_id": appointment.patient_id,
                "service_point_id": point.id,
                "now": arrive,
            },
        )
    ]


def test_a_transfer_ticket_is_no_new_check_in(
    hospital, point, queue, counter, create_service_point, create_patient
):
    lab = create_service_point(hospital, kind="lab_draw")
    qf.open_queue(lab, now=NOW)
    patient = create_patient(hospital, birth_date=date(1990, 1, 1))
    ticket = qf.walk_in(hospital, point, now=NOW, patient_id=patient.id)
    _call(hospital, counter, NOW)
    with recording(events.visit_checked_in, events.ticket_completed) as seen:
        serving.transfer(
            actor=None,
            hospital_id=hospital.id,
            counter_id=counter.id,
            to_service_point_id=lab.id,
            now=NOW,
        )
    assert seen == [] and ticket.status.value == "transferred"


def test_a_served_walk_in_lands_in_the_visit_summary(hospital, point, queue, counter):
    ticket = qf.walk_in(hospital, point, now=NOW)
    _call(hospital, counter, NOW + timedelta(minutes=12))
    serving.start(
        actor=None,
        hospital_id=hospital.id,
        counter_id=counter.id,
        now=NOW + timedelta(minutes=13),
    )
    serving.complete(
        actor=None,
        hospital_id=hospital.id,
        counter_id=counter.id,
        now=NOW + timedelta(minutes=21),
    )
    db.session.expire_all()
    visit = db.session.scalar(
        sa.select(VisitSummary).where(
            VisitSummary.hospital_id == hospital.id, VisitSummary.ticket_id == ticket.id
        )
    )
    assert visit is not None
    assert (visit.appointment_id, visit.department_id, visit.service_date) == (
        None,
        point.department_id,
        date(2026, 3, 2),
    )
    assert (visit.wait_seconds, visit.service_seconds) == (12 * 60, 8 * 60)
    assert visit.completed_at == NOW + timedelta(minutes=21)
