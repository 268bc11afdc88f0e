"""Wait ranges are recorded as shown at each change of place, judged at the call, calibrated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hospital.db import db
from queueing import eta
from queueing.models import WaitEstimate
from queueing.services import accuracy, calling
from queueing.snapshots import load_state, ticket_view, wait_ranges
from reports.models import WaitAccuracySummary
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def point(hospital, create_service_point):
    return create_service_point(hospital)


@pytest.fixture
def queue(point):
    return qf.open_queue(point, now=NOW, default_service_seconds=300)


@pytest.fixture
def counter(point):
    return qf.create_counter(point)


def _records(ticket_id: int) -> list[WaitEstimate]:
    return list(
        db.session.scalars(
            sa.select(WaitEstimate)
            .where(WaitEstimate.ticket_id == ticket_id)
            .order_by(WaitEstimate.id)
        )
    )


def test_a_range_is_recorded_at_each_change_of_place_and_judged_at_the_call(
    hospital, point, queue, counter
):
    a, b, c = (qf.walk_in(hospital, point, now=NOW) for _ in range(3))
    assert accuracy.track_wait_estimates(now=NOW, target=0.8) == 3
    shown = ticket_view(load_state(queue.id, now=NOW), c.id)["eta"]
    (record,) = _records(c.id)
    assert (record.ahead, record.low_minutes, record.high_minutes) == (
        2,
        shown["low_minutes"],
        shown["high_minutes"],
    )
    # Nobody moved: nothing new.
    assert accuracy.track_wait_estimates(now=NOW + timedelta(seconds=15), target=0.8) == 0
    called_at = NOW + timedelta(minutes=4)
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=called_at)
    assert accuracy.track_wait_estimates(now=called_at + timedelta(seconds=15), target=0.8) == 2
    (judged,) = _records(a.id)
    assert judged.judged and judged.actual_seconds == 240
    assert judged.inside == (judged.low_minutes * 60 <= 240 <= judged.high_minutes * 60)
    assert [r.ahead for r in _records(b.id)] == [1, 0]
    summary = db.session.scalars(sa.select(WaitAccuracySummary)).one()
    assert (summary.service_point_id, summary.hour, summary.shown) == (point.id, 9, 1)
    assert summary.inside == int(judged.inside)
    midpoint = (judged.low_minutes + judged.high_minutes) * 30
    assert summary.abs_error_seconds == abs(midpoint - 240)


def test_a_counter_back_from_a_pause_at_a_said_time_counts_in_the_estimate(
    hospital, point, queue, counter
):
    second = qf.create_counter(point, code="2")
    tickets = [qf.walk_in(hospital, point, now=NOW) for _ in range(4)]
    both = wait_ranges(load_state(queue.id, now=NOW), now=NOW)[tickets[3].id]
    second.is_paused = True
    second.paused_until = NOW + timedelta(minutes=30)
    db.session.flush()
    one_back_later = wait_ranges(load_state(queue.id, now=NOW), now=NOW)[tickets[3].id]
    second.paused_until = None
    db.session.flush()
    one_only = wait_ranges(load_state(queue.id, now=NOW), now=NOW)[tickets[3].id]
    # Two counters: the fourth starts at 5 min; one: at 15; the second back at 30 does not help,
    # back at 10 it does (it takes the fourth at 10).
    assert both.expected_seconds == 300
    assert one_back_later.expected_seconds == one_only.expected_seconds == 900
    second.paused_until = NOW + timedelta(minutes=10)
    db.session.flush()
    back_soon = wait_ranges(load_state(queue.id, now=NOW), now=NOW)[tickets[3].id]
    assert back_soon.expected_seconds == 600


def test_booked_patients_still_to_come_count_ahead_of_a_later_walk_in(hospital, point, book_at):
    _appointment, _clinician, slot = book_at(point)
    now = slot.starts_at + timedelta(minutes=1)  # the booked patient may still come in grace
    queue = qf.open_queue(point, now=now, default_service_seconds=300)
    qf.create_counter(point)
    walk_ins = [qf.walk_in(hospital, point, now=now) for _ in range(3)]
    state = load_state(queue.id, now=now)
    assert state["booked_pending"] == [slot.starts_at.isoformat()]
    shown = wait_ranges(state, now=now)[walk_ins[2].id]
    alone = eta.expected_wait_seconds(2, per_ticket_seconds=300, lanes=[eta.Lane(0.0)])
    # Two ahead in line, and the booked patient (85 % likely to come) whose slot puts them ahead.
    assert alone == 600 and shown.expected_seconds == pytest.approx(600 + 0.85 * 300)


def test_the_queue_is_recalibrated_from_its_judged_ranges(hospital, point, queue, counter):
    ticket = qf.walk_in(hospital, point, now=NOW)
    judged_at = NOW - timedelta(hours=1)
    for i in range(60):
        db.session.add(
            WaitEstimate(
                hospital_id=hospital.id,
                queue_id=queue.id,
                service_point_id=point.id,
                ticket_id=ticket.id,
                shown_at=judged_at - timedelta(minutes=20),
                ahead=2,
                expected_seconds=600,
                low_minutes=5,
                high_minutes=15,
                judged=True,
                judged_at=judged_at,
                actual_seconds=600 + (i % 20) * 60,  # always later than expected
                inside=None,
            )
        )
    db.session.flush()
    fitted = accuracy.recalibrate(queue, now=NOW, target=0.8)
    db.session.refresh(queue)
    assert fitted.samples == 60 and queue.eta_samples == 60
    assert queue.eta_low_factor == pytest.approx(fitted.low_factor)
    assert fitted.low_factor >= 1.0  # the range moved to where patients were really called
    shown = wait_ranges(load_state(queue.id, now=NOW), now=NOW)[ticket.id]
    assert shown.calibrated


def test_a_closed_queue_still_has_its_ranges_judged(hospital, point, queue, counter):
    from queueing.services import queues

    ticket = qf.walk_in(hospital, point, now=NOW)
    accuracy.track_wait_estimates(now=NOW, target=0.8)
    from hospital.accounts.models import Role
    from tests.support.factories import create_account

    nurse = create_account(hospital, roles=(Role.NURSE,))
    queues.close_queue(actor=nurse, queue_id=queue.id, now=NOW)
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    accuracy.track_wait_estimates(now=NOW + timedelta(seconds=15), target=0.8)
    (record,) = _records(ticket.id)
    assert record.judged and record.actual_seconds == 0
