"""Queue operations against both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from hospital.db import db
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.notifications.models import OutboxMessage
from queueing.models import PriorityClass, QueueStatus, Ticket, TicketStatus
from queueing.services import calling, issuing, notify, queues, serving
from tests.support import queueing_factories as qf

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def point(hospital, create_service_point):
    return create_service_point(hospital)


@pytest.fixture
def queue(point):
    return qf.open_queue(point, now=NOW)


@pytest.fixture
def counter(point):
    return qf.create_counter(point)


def test_walk_ins_get_consecutive_numbers_with_the_queue_prefix(hospital, point, queue):
    tickets = [qf.walk_in(hospital, point, now=NOW + timedelta(minutes=i)) for i in range(3)]
    assert [t.code for t in tickets] == ["A001", "A002", "A003"]
    assert len({t.token for t in tickets}) == 3
    assert all(len(t.token) >= 22 for t in tickets)  # 16 random bytes, url-safe base64


def test_numbers_restart_at_shanghai_midnight_not_utc_midnight(hospital, point):
    before_local_midnight = datetime(2026, 3, 1, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    after_local_midnight = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 00:00 on 2 March
    utc_midnight = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 on 2 March, same local day
    first = qf.open_queue(point, now=before_local_midnight)
    assert first.service_day == date(2026, 3, 1)
    assert qf.walk_in(hospital, point, now=before_local_midnight).code == "A001"
    assert qf.walk_in(hospital, point, now=before_local_midnight).code == "A002"
    second = qf.open_queue(point, now=after_local_midnight)
    assert second.id != first.id and second.service_day == date(2026, 3, 2)
    assert qf.walk_in(hospital, point, now=after_local_midnight).code == "A001"
    assert qf.walk_in(hospital, point, now=utc_midnight).code == "A002"


def test_walk_in_without_an_open_queue_is_refused(hospital, point):
    with pytest.raises(Conflict) as caught:
        qf.walk_in(hospital, point, now=NOW)
    assert caught.value.code == "queue_not_open"


def test_checking_in_twice_returns_the_same_ticket(hospital, point, create_patient):
    patient = create_patient(hospital)
    args = dict(
        actor=None,
        hospital_id=hospital.id,
        appointment_id=4242,
        patient_id=patient.id,
        service_point_id=point.id,
        slot_start=NOW + timedelta(minutes=30),
        now=NOW,
    )
    first, created = issuing.issue_for_appointment(**args)
    again, created_again = issuing.issue_for_appointment(
        **{**args, "now": NOW + timedelta(minutes=1)}
    )
    assert created and not created_again
    assert again.id == first.id and again.code == "A001"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_second_call_next_returns_the_same_ticket(hospital, point, queue, counter):
    a = qf.walk_in(hospital, point, now=NOW)
    qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1))
    first = calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    again = calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert first.ticket.id == a.id and not first.repeated
    assert again.ticket.id == a.id and again.repeated
    assert a.call_count == 1


def test_calling_from_a_paused_counter_is_refused(hospital, point, queue, counter, create_account):
    from hospital.accounts.models import Role

    nurse = create_account(hospital, roles=(Role.NURSE,))
    qf.walk_in(hospital, point, now=NOW)
    serving.set_paused(
        actor=nurse,
        hospital_id=hospital.id,
        counter_id=counter.id,
        paused=True,
        now=NOW,
        reason="lunch",
        minutes=30,
    )
    with pytest.raises(Conflict) as caught:
        calling.call_next(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert caught.value.code == "counter_paused"
    serving.set_paused(
        actor=nurse, hospital_id=hospital.id, counter_id=counter.id, paused=False, now=NOW
    )
    assert calling.call_next(
        actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW
    ).ticket


def test_completing_a_ticket_never_called_is_refused(hospital, point, queue, counter):
    waiting = qf.walk_in(hospital, point, now=NOW)
    with pytest.raises(Conflict) as caught:
        serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert caught.value.code == "no_ticket_called"
    with pytest.raises(Conflict) as caught:
        serving.complete(
            actor=None,
            hospital_id=hospital.id,
            counter_id=counter.id,
            now=NOW,
            ticket_id=waiting.id,
        )
    assert caught.value.code == "ticket_not_called"
    assert waiting.status is TicketStatus.WAITING


def test_call_start_complete_records_the_service_time(hospital, point, queue, counter):
    ticket = qf.walk_in(hospital, point, now=NOW)
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    serving.start(
        actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW + timedelta(minutes=1)
    )
    serving.complete(
        actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW + timedelta(minutes=8)
    )
    assert ticket.status is TicketStatus.DONE
    assert ticket.finished_at - ticket.started_at == timedelta(minutes=7)
    assert counter.current_ticket_id is None


def test_lease_expiry_puts_the_called_ticket_back_in_line(hospital, point, queue, counter):
    first = qf.walk_in(hospital, point, now=NOW)
    second = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1))
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    later = NOW + timedelta(seconds=queue.lease_seconds + 1)
    assert calling.release_expired_leases(now=later) == 1
    assert first.status is TicketStatus.WAITING and counter.current_ticket_id is None
    # Back at its old place: it is the next one called again, before the second ticket.
    called = calling.call_next(
        actor=None, hospital_id=hospital.id, counter_id=counter.id, now=later
    )
    assert called.ticket.id == first.id and second.status is TicketStatus.WAITING


def test_missed_goes_back_a_few_places_then_becomes_no_show(hospital, point, queue, counter):
    queue.miss_setback = 2
    queue.max_misses = 2
    tickets = [qf.walk_in(hospital, point, now=NOW + timedelta(minutes=i)) for i in range(5)]
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    missed = calling.mark_missed(
        actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW
    )
    assert missed.id == tickets[0].id and missed.status is TicketStatus.WAITING
    calls = []
    for _ in range(3):
        result = calling.call_next(
            actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW
        )
        calls.append(result.ticket.id)
        serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert calls == [tickets[1].id, tickets[2].id, tickets[0].id]
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    # tickets[3] was served; now miss tickets[4] twice.
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    calling.mark_missed(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    final = calling.mark_missed(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert final.id == tickets[4].id and final.status is TicketStatus.NO_SHOW


def test_transfer_to_a_closed_queue_is_refused(
    hospital, point, queue, counter, create_service_point, create_account
):
    from hospital.accounts.models import Role

    nurse = create_account(hospital, roles=(Role.NURSE,))
    lab = create_service_point(hospital, kind="lab_draw")
    lab_queue = qf.open_queue(lab, now=NOW)
    lab_user = create_account(hospital, roles=(Role.LAB,))  # the lab works the lab's queue
    queues.close_queue(actor=lab_user, queue_id=lab_queue.id, now=NOW)
    assert lab_queue.status is QueueStatus.CLOSED
    qf.walk_in(hospital, point, now=NOW)
    calling.call_next(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    with pytest.raises(Conflict) as caught:
        serving.transfer(
            actor=nurse,
            hospital_id=hospital.id,
            counter_id=counter.id,
            to_service_point_id=lab.id,
            now=NOW,
        )
    assert caught.value.code == "queue_closed"


def test_doctor_to_lab_and_back_returns_with_priority(
    hospital, point, queue, counter, create_service_point, create_patient, create_account
):
    from hospital.accounts.models import Role

    nurse = create_account(hospital, roles=(Role.NURSE,))
    lab = create_service_point(hospital, kind="lab_draw")
    qf.open_queue(lab, now=NOW)
    lab_counter = qf.create_counter(lab)
    patient = create_patient(hospital, birth_date=date(1990, 1, 1))
    ticket = qf.walk_in(hospital, point, now=NOW, patient_id=patient.id)
    calling.call_next(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    lab_ticket = serving.transfer(
        actor=nurse,
        hospital_id=hospital.id,
        counter_id=counter.id,
        to_service_point_id=lab.id,
        now=NOW,
        come_back=True,
    )
    assert ticket.status is TicketStatus.TRANSFERRED
    assert lab_ticket.code == "L001" and lab_ticket.transferred_from_id == ticket.id
    lab_user = create_account(hospital, roles=(Role.LAB,))  # the lab works the lab's queue
    calling.call_next(actor=lab_user, hospital_id=hospital.id, counter_id=lab_counter.id, now=NOW)
    serving.complete(actor=lab_user, hospital_id=hospital.id, counter_id=lab_counter.id, now=NOW)
    back = db.session.scalar(sa.select(Ticket).where(Ticket.transferred_from_id == lab_ticket.id))
    assert back.queue_id == queue.id and back.priority is PriorityClass.RETURNING
    assert back.code == "A002"


def test_patients_aged_80_are_priority_and_served_one_per_two_regular(
    hospital, point, queue, counter, create_patient
):
    elder = create_patient(hospital, birth_date=date(1940, 1, 1), name="李老")
    young = [create_patient(hospital, birth_date=date(1990, 1, 1)) for _ in range(4)]
    regular = [qf.walk_in(hospital, point, now=NOW, patient_id=p.id) for p in young]
    old = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=5), patient_id=elder.id)
    assert old.priority is PriorityClass.ELDERLY
    order = []
    for _ in range(5):
        order.append(
            calling.call_next(
                actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW
            ).ticket.id
        )
        serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert order == [regular[0].id, regular[1].id, old.id, regular[2].id, regular[3].id]


def test_call_out_of_order_needs_a_reason(hospital, point, queue, counter, create_account):
    from hospital.accounts.models import Role

    nurse = create_account(hospital, roles=(Role.NURSE,))
    qf.walk_in(hospital, point, now=NOW)
    later = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1))
    with pytest.raises(InvalidInput):
        calling.call_ticket(
            actor=nurse,
            hospital_id=hospital.id,
            counter_id=counter.id,
            ticket_id=later.id,
            reason="",
            now=NOW,
        )
    result = calling.call_ticket(
        actor=nurse,
        hospital_id=hospital.id,
        counter_id=counter.id,
        ticket_id=later.id,
        reason="wheelchair, came with escort",
        now=NOW,
    )
    assert result.ticket.id == later.id and later.called_out_of_order_reason


def test_unknown_token_is_not_found(hospital):
    with pytest.raises(NotFound):
        notify.ticket_by_token("x" * 22)


def test_each_notification_is_sent_at_most_once_per_ticket(
    hospital, point, queue, counter, create_patient, create_account
):
    family = create_account(hospital)
    patient = create_patient(hospital, birth_date=date(1990, 1, 1), phone="13900000001")
    from hospital.patients.models import FamilyLink, Relationship

    db.session.add(
        FamilyLink(
            hospital_id=hospital.id,
            account_id=family.id,
            patient_id=patient.id,
            relationship=Relationship.CHILD,
        )
    )
    db.session.flush()
    others = [qf.walk_in(hospital, point, now=NOW) for _ in range(4)]
    mine = qf.walk_in(hospital, point, now=NOW + timedelta(minutes=1), patient_id=patient.id)
    for _ in range(4):
        calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
        serving.complete(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    calling.call_next(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    calling.mark_missed(actor=None, hospital_id=hospital.id, counter_id=counter.id, now=NOW)
    assert len(others) == 4
    rows = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.patient_id == patient.id)
    ).all()
    by_template: dict[str, set[str]] = {}
    for row in rows:
        by_template.setdefault(row.template, set()).add(row.recipient)
    assert set(by_template) == {
        "queue.ticket_issued",
        "queue.almost_turn",
        "queue.your_turn",
        "queue.missed",
    }
    for template, recipients in by_template.items():
        assert recipients == {patient.phone, family.phone}, template
        assert len([r for r in rows if r.template == template]) == 2
    issued = next(r for r in rows if r.template == "queue.ticket_issued")
    assert f"/q/{mine.token}" in issued.body


def test_check_in_of_a_booked_appointment_gives_one_ticket_in_the_session_room(
    hospital, point, create_account, book_at
):
    from hospital.accounts.models import Role
    from scheduling.models import AppointmentState

    appointment, _clinician, slot = book_at(point)
    arrive = slot.starts_at - timedelta(minutes=20)
    registrar = create_account(hospital, roles=(Role.REGISTRAR,))
    ticket, created = issuing.check_in(
        actor=registrar, hospital_id=hospital.id, appointment_id=appointment.id, now=arrive
    )
    again, created_again = issuing.check_in(
        actor=registrar, hospital_id=hospital.id, appointment_id=appointment.id, now=arrive
    )
    assert created and not created_again and again.id == ticket.id
    assert appointment.state is AppointmentState.CHECKED_IN
    assert ticket.order_key == slot.starts_at  # arrived early: ordered by the slot time
    assert ticket.queue.service_point_id == point.id
    counter = qf.create_counter(point)
    nurse = create_account(hospital, roles=(Role.NURSE,))  # the room's staff call, not the desk
    calling.call_next(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=arrive)
    serving.complete(actor=nurse, hospital_id=hospital.id, counter_id=counter.id, now=arrive)
    db.session.refresh(appointment)
    assert appointment.state is AppointmentState.COMPLETED


def test_the_daily_job_opens_each_service_point_once_per_local_day(hospital, create_service_point):
    from queueing import jobs
    from queueing.models import ServiceQueue

    points = [create_service_point(hospital) for _ in range(2)]
    opened = jobs.open_todays_queues(now=NOW)
    assert opened >= 2
    assert jobs.open_todays_queues(now=NOW + timedelta(minutes=15)) == 0
    days = db.session.scalars(
        sa.select(ServiceQueue.service_day).where(
            ServiceQueue.service_point_id.in_([p.id for p in points])
        )
    ).all()
    assert days == [date(2026, 3, 2)] * 2
