"""Pausing says why and until when (shown on the board); a counter's last action can be undone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db
from hospital.errors import Conflict, InvalidInput
from hospital.unit_of_work import unit_of_work
from queueing.models import Ticket, TicketAction, TicketEvent, TicketStatus
from queueing.services import calling, serving, undo
from queueing.snapshots import board_view, load_state
from tests.support import factories
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
WINDOW = 120


@pytest.fixture
def point(hospital, create_service_point):
    return create_service_point(hospital)


@pytest.fixture
def queue(point):
    return qf.open_queue(point, now=NOW)


@pytest.fixture
def counter(point):
    return qf.create_counter(point, code="2")


@pytest.fixture
def nurse(hospital, create_account):
    return create_account(hospital, roles=(Role.NURSE,))


def _undo(nurse, counter, now):
    return undo.undo_last(
        actor=nurse,
        hospital_id=nurse.hospital_id,
        counter_id=counter.id,
        now=now,
        window_seconds=WINDOW,
    )


def _call(nurse, counter, now):
    return calling.call_next(
        actor=nurse, hospital_id=nurse.hospital_id, counter_id=counter.id, now=now
    ).ticket


def test_a_pause_needs_a_reason_and_a_length_and_the_board_shows_when_it_is_back(
    hospital, point, queue, counter, nurse
):
    args = dict(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, paused=True, now=NOW)
    with pytest.raises(InvalidInput) as caught:
        serving.set_paused(**args, reason="", minutes=20)
    assert caught.value.code == "reason_required"
    with pytest.raises(InvalidInput) as caught:
        serving.set_paused(**args, reason="lunch", minutes=None)
    assert caught.value.code == "pause_length_required"
    serving.set_paused(**args, reason="lunch break", minutes=100)
    board = board_view([load_state(queue.id, now=NOW)])
    # 09:00 in Shanghai plus 100 minutes; the reason stays with staff.
    assert board["queues"][0]["paused_counters"] == [{"counter": "2", "back_at": "10:40"}]
    assert "lunch" not in repr(board)
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "queue.counter_paused")
    ).one()
    assert entry.detail == {"reason": "lunch break", "minutes": 100}
    serving.set_paused(**{**args, "paused": False})
    assert board_view([load_state(queue.id, now=NOW)])["queues"][0]["paused_counters"] == []
    assert counter.paused_until is None and counter.pause_reason == ""


def test_undoing_a_call_puts_the_patient_back_at_the_head_of_the_line(
    hospital, point, queue, counter, nurse
):
    first = qf.walk_in(hospital, point, now=NOW)
    qf.walk_in(hospital, point, now=NOW + timedelta(seconds=1))
    assert _call(nurse, counter, NOW).id == first.id
    back = _undo(nurse, counter, NOW + timedelta(seconds=10))
    assert back.id == first.id and back.status is TicketStatus.WAITING
    assert back.call_count == 0 and back.counter_id is None and counter.current_ticket_id is None
    # The same patient is next again, and a second undo finds nothing to take back.
    assert _call(nurse, counter, NOW + timedelta(seconds=20)).id == first.id
    actions = db.session.scalars(
        sa.select(TicketEvent.action)
        .where(TicketEvent.ticket_id == first.id)
        .order_by(TicketEvent.id)
    ).all()
    assert actions == [
        TicketAction.ISSUED,
        TicketAction.CALLED,
        TicketAction.UNDONE,
        TicketAction.CALLED,
    ]
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "queue.undo")).one()
    assert audit.detail["undid"] == "called" and audit.actor_account_id == nurse.id


def test_undo_is_refused_after_the_window_and_when_there_is_nothing_to_undo(
    hospital, point, queue, counter, nurse
):
    with pytest.raises(Conflict) as caught:
        _undo(nurse, counter, NOW)
    assert caught.value.code == "nothing_to_undo"
    qf.walk_in(hospital, point, now=NOW)
    _call(nurse, counter, NOW)
    with pytest.raises(Conflict) as caught:
        _undo(nurse, counter, NOW + timedelta(seconds=WINDOW + 1))
    assert caught.value.code == "undo_too_late"
    _undo(nurse, counter, NOW + timedelta(seconds=5))
    with pytest.raises(Conflict) as caught:
        _undo(nurse, counter, NOW + timedelta(seconds=6))
    assert caught.value.code == "nothing_to_undo"


def test_undoing_a_miss_calls_the_patient_back_to_the_counter_at_their_old_place(
    hospital, point, queue, counter, nurse
):
    ticket = qf.walk_in(hospital, point, now=NOW)
    for i in range(4):
        qf.walk_in(hospital, point, now=NOW + timedelta(seconds=i + 1))
    _call(nurse, counter, NOW)
    key = ticket.order_key
    calling.mark_missed(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert ticket.status is TicketStatus.WAITING and ticket.order_key != key
    _undo(nurse, counter, NOW + timedelta(seconds=30))
    assert ticket.status is TicketStatus.CALLED and counter.current_ticket_id == ticket.id
    assert ticket.misses == 0 and ticket.order_key == key


def test_undoing_a_completion_serves_the_patient_again(hospital, point, queue, counter, nurse):
    ticket = qf.walk_in(hospital, point, now=NOW)
    _call(nurse, counter, NOW)
    serving.start(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    serving.complete(
        actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW + timedelta(minutes=5)
    )
    _undo(nurse, counter, NOW + timedelta(minutes=6))
    assert ticket.status is TicketStatus.SERVING and ticket.finished_at is None
    assert ticket.started_at == NOW and counter.current_ticket_id == ticket.id


def test_undoing_a_transfer_cancels_the_onward_ticket_while_it_waits(
    hospital, point, queue, counter, nurse, create_service_point
):
    lab = create_service_point(hospital)
    qf.open_queue(lab, now=NOW)
    ticket = qf.walk_in(hospital, point, now=NOW)
    _call(nurse, counter, NOW)
    onward = serving.transfer(
        actor=nurse,
        hospital_id=hospital.id,
        counter_id=counter.id,
        to_service_point_id=lab.id,
        now=NOW,
    )
    _undo(nurse, counter, NOW + timedelta(seconds=30))
    assert onward.status is TicketStatus.CANCELLED
    assert ticket.status is TicketStatus.CALLED and counter.current_ticket_id == ticket.id


def test_undo_through_the_api(client, hospital, point, counter, nurse):
    from hospital.db import utcnow

    qf.open_queue(point, now=utcnow())
    qf.walk_in(hospital, point, now=utcnow())
    sign_in(client, nurse)
    api = f"/api/v1/queueing/counters/{counter.id}"
    headers = {"X-Requested-With": "test"}
    called = client.post(f"{api}/call-next", headers=headers).get_json()["ticket"]
    r = client.post(f"{api}/undo", headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "waiting"
    assert r.get_json()["id"] == called["id"]
    r = client.post(f"{api}/undo", headers=headers)
    assert r.status_code == 409 and r.get_json()["code"] == "nothing_to_undo"


@pytest.fixture
def postgres_only(backend):
    if backend == "sqlite":
        pytest.skip("true concurrency needs PostgreSQL; SQLite serialises writers")


def test_undo_and_call_next_racing_at_a_counter_take_back_one_call_each(
    app, committed, postgres_only
):
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        point = factories.create_service_point(hospital)
        qf.open_queue(point, now=NOW)
        counter = qf.create_counter(point)
        nurse = factories.create_account(hospital, roles=(Role.NURSE,))
        for i in range(3):
            qf.walk_in(hospital, point, now=NOW + timedelta(seconds=i))
        calling.call_next(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
        ids = (hospital.id, counter.id, nurse.id)
    hospital_id, counter_id, nurse_id = ids
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def staff(n: int) -> None:
        try:
            with app.app_context():
                from hospital.accounts.models import Account

                start.wait()
                try:
                    with unit_of_work():
                        actor = db.session.get_one(Account, nurse_id)
                        if n % 2:
                            undo.undo_last(
                                actor=actor,
                                hospital_id=hospital_id,
                                counter_id=counter_id,
                                now=NOW + timedelta(seconds=5),
                                window_seconds=WINDOW,
                            )
                            outcomes.append("undone")
                        else:
                            calling.call_next(
                                actor=actor,
                                hospital_id=hospital_id,
                                counter_id=counter_id,
                                now=NOW + timedelta(seconds=5),
                            )
                            outcomes.append("called")
                except Conflict as refused:
                    outcomes.append(refused.code)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=staff, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with app.app_context():
        from queueing.models import Counter

        tickets = db.session.scalars(sa.select(Ticket).order_by(Ticket.number)).all()
        at_counter = [t.id for t in tickets if t.status is TicketStatus.CALLED]
        counter_now = db.session.get_one(Counter, counter_id).current_ticket_id

        def count(*where):
            return db.session.scalar(
                sa.select(sa.func.count()).select_from(TicketEvent).where(*where)
            )

        undone_events = count(TicketEvent.action == TicketAction.UNDONE)
        taken_back = count(
            TicketEvent.action == TicketAction.CALLED, TicketEvent.undone_at.is_not(None)
        )
        standing = count(TicketEvent.action == TicketAction.CALLED, TicketEvent.undone_at.is_(None))
    # Each undo took back exactly one call, and what stands agrees with the counter: at most one
    # ticket at it (invariant 5), the one its standing call made.
    assert undone_events == taken_back == outcomes.count("undone") >= 1
    assert standing == len(at_counter) <= 1
    assert at_counter == ([counter_now] if counter_now else [])
    assert set(outcomes) <= {"undone", "called", "nothing_to_undo"}
