"""A waiting patient's ticket says, in plain words and without personal data, why someone who
came later was called first; the reason is the one the ordering used for that call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hospital.accounts.models import Role
from queueing import fairness
from queueing.models import PriorityClass
from queueing.services import calling
from queueing.snapshots import load_state, ticket_view
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_a_priority_patient_called_first_is_explained_to_those_passed(
    hospital, create_service_point, create_patient
):
    point = create_service_point(hospital)
    queue = qf.open_queue(point, now=NOW, regular_since_priority=2)
    counter = qf.create_counter(point)
    regular = qf.walk_in(hospital, point, now=NOW)
    elder = create_patient(hospital, name="王老先生")
    aged = qf.walk_in(
        hospital,
        point,
        now=NOW + timedelta(minutes=1),
        priority=PriorityClass.ELDERLY,
        patient_id=elder.id,
    )
    result = calling.call_next(
        actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW + timedelta(minutes=2)
    )
    assert result.ticket.id == aged.id
    view = ticket_view(load_state(queue.id, now=NOW + timedelta(minutes=2)), regular.id)
    assert view["called_ahead_because"] == fairness.passing_reason(result.reason, "elderly")
    assert view["called_ahead_because"] == "priority:elderly"
    assert "王" not in repr(view)


def test_a_staff_decision_is_shown_without_the_typed_reason(
    hospital, create_service_point, create_account
):
    point = create_service_point(hospital)
    queue = qf.open_queue(point, now=NOW)
    counter = qf.create_counter(point)
    first = qf.walk_in(hospital, point, now=NOW)
    later = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1))
    nurse = create_account(hospital, roles=(Role.NURSE,))
    calling.call_ticket(
        actor=nurse,
        hospital_id=hospital.id,
        counter_id=counter.id,
        ticket_id=later.id,
        reason="Mr Li's chest pain",
        now=NOW + timedelta(minutes=2),
    )
    view = ticket_view(load_state(queue.id, now=NOW + timedelta(minutes=2)), first.id)
    assert view["called_ahead_because"] == "staff_decision"
    assert "Li" not in repr(view)
    # The one called, and anyone who came after them, is told nothing.
    assert ticket_view(load_state(queue.id, now=NOW), later.id)["called_ahead_because"] is None


def test_nothing_is_shown_when_the_call_went_in_arrival_order(hospital, create_service_point):
    point = create_service_point(hospital)
    queue = qf.open_queue(point, now=NOW)
    counter = qf.create_counter(point)
    qf.walk_in(hospital, point, now=NOW)
    second = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1))
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert ticket_view(load_state(queue.id, now=NOW), second.id)["called_ahead_because"] is None


def test_the_daily_fairness_report_lists_passing_calls_and_the_bound(
    client, hospital, create_service_point, create_account
):
    from queueing.services import fairness_report
    from tests.support.auth import sign_in

    point = create_service_point(hospital)
    qf.open_queue(point, now=NOW, regular_since_priority=2, ageing_minutes=30)
    counter = qf.create_counter(point)
    old = qf.walk_in(hospital, point, now=NOW - timedelta(minutes=45))
    qf.walk_in(hospital, point, now=NOW - timedelta(minutes=5), priority=PriorityClass.PREGNANCY)
    # The regular patient waited past the bound: the ordering calls them before the priority one.
    first = calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert first.ticket.id == old.id and first.reason == "waited_long"
    nurse = create_account(hospital, roles=(Role.NURSE,))
    (queue_report,) = fairness_report.daily_report(actor=nurse, day=NOW.date())
    assert queue_report.bound_minutes == 30 and queue_report.violations == 0
    assert queue_report.longest_wait_minutes == {"none": 45}
    assert queue_report.passing_calls == []
    from queueing.services import serving

    serving.complete(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    late = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1))
    calling.call_ticket(
        actor=nurse,
        hospital_id=hospital.id,
        counter_id=counter.id,
        ticket_id=late.id,
        reason="needs a wheelchair",
        now=NOW + timedelta(minutes=2),
    )
    (queue_report,) = fairness_report.daily_report(actor=nurse, day=NOW.date())
    (passing,) = queue_report.passing_calls
    assert (passing.code, passing.reason, passing.passed, passing.at) == (
        late.code,
        "staff_decision",
        1,
        "09:02",
    )
    sign_in(client, nurse)
    page = client.get("/queueing/fairness?day=2026-03-02")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and late.code in html and "wheelchair" not in html
    assert client.get("/queueing/fairness?day=March").status_code == 422
    sign_in(client, create_account(hospital))
    assert client.get("/queueing/fairness").status_code in (302, 403)
