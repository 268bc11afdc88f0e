"""Each kind of service point is worked by its own roles; staff reads of the console are audited."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.organisation.models import ServicePointKind
from hospital.organisation.staffing import SERVICE_POINT_ROLES, may_work
from queueing.models import QueueStatus, TicketStatus
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in

API = "/api/v1/queueing"
JSON = {"X-Requested-With": "test"}


@pytest.fixture
def room(hospital: Any, create_service_point: Any, create_patient: Any) -> dict[str, Any]:
    """A consultation room with today's queue, a counter and one named patient waiting."""
    point = create_service_point(hospital, kind=ServicePointKind.CONSULTATION_ROOM)
    qf.open_queue(point, now=utcnow())
    counter = qf.create_counter(point)
    patient = create_patient(hospital, name="张三明", birth_date=date(1980, 1, 1))
    ticket = qf.walk_in(hospital, point, now=utcnow(), patient_id=patient.id)
    anonymous = qf.walk_in(hospital, point, now=utcnow())
    db.session.commit()
    return {"point": point, "counter": counter, "ticket": ticket, "anonymous": anonymous}


def _denials() -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.outcome == "denied").order_by(AuditEntry.id)
        )
    )


def _reads() -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "queue.console.read", AuditEntry.outcome == "success")
            .order_by(AuditEntry.id)
        )
    )


def test_every_kind_names_its_roles_and_admin_works_everywhere() -> None:
    assert set(SERVICE_POINT_ROLES) == set(ServicePointKind)
    for roles in SERVICE_POINT_ROLES.values():
        assert Role.ADMIN in roles and Role.PATIENT not in roles
    room = ServicePointKind.CONSULTATION_ROOM
    assert may_work({Role.NURSE}, room) and may_work({Role.CLINICIAN}, room)
    assert not may_work({Role.CASHIER}, room) and not may_work({Role.LAB}, room)
    assert may_work({Role.LAB}, ServicePointKind.LAB_DRAW)
    assert may_work({Role.CASHIER}, ServicePointKind.CASHIER)
    assert may_work({Role.REGISTRAR}, ServicePointKind.REGISTRATION_DESK)
    assert not may_work({Role.REGISTRAR}, room)


@pytest.mark.parametrize("role", [Role.CASHIER, Role.LAB, Role.REGISTRAR])
def test_other_roles_cannot_run_or_read_a_consultation_room_queue(
    client: Any, hospital: Any, create_account: Any, room: dict[str, Any], role: Role
) -> None:
    outsider = create_account(hospital, roles=(role,))
    db.session.commit()
    sign_in(client, outsider)
    counter, point, ticket = room["counter"], room["point"], room["ticket"]
    attempts = [
        client.get(f"{API}/counters/{counter.id}"),
        client.get(f"{API}/counters/{counter.id}/events"),
        client.post(f"{API}/queues", json={"service_point_id": point.id}),
        client.post(f"{API}/queues/{ticket.queue_id}/close", json={}, headers=JSON),
        client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON),
        client.post(
            f"{API}/counters/{counter.id}/call", json={"ticket_id": ticket.id, "reason": "urgent"}
        ),
        client.post(f"{API}/counters/{counter.id}/pause", json={"reason": "lunch", "minutes": 30}),
        client.post(f"{API}/counters/{counter.id}/resume", headers=JSON),
        client.post(f"{API}/counters/{counter.id}/recall", json={}),
        client.post(f"{API}/counters/{counter.id}/complete", json={}),
    ]
    for response in attempts:
        assert response.status_code == 403, (response.request.path, response.get_json())
        body = response.get_json()
        assert body["code"] == "queue_role_required"
        assert "岗位" in body["message"]  # "your role …" (zh by default)
    pages = [
        client.get(f"/queueing/console/{counter.id}"),
        client.post(f"/queueing/console/{counter.id}/open-queue"),
        client.get(f"/queueing/console/{counter.id}/close-queue"),
        client.post(f"/queueing/console/{counter.id}/close-queue", data={"confirm": "yes"}),
    ]
    for response in pages:
        assert response.status_code == 403 and response.mimetype == "text/html"
        assert "张三明" not in response.get_data(as_text=True)

    db.session.expire_all()
    assert ticket.status is TicketStatus.WAITING
    assert ticket.queue.status is QueueStatus.OPEN
    assert counter.is_paused is False
    denials = [d for d in _denials() if d.actor_account_id == outsider.id]
    assert len(denials) == len(attempts) + len(pages)
    assert all(d.object_type == "service_point" for d in denials)
    assert all(d.detail["reason"] == "role_not_allowed" for d in denials)
    assert not _reads()


def test_the_console_index_lists_only_the_queues_the_account_works(
    client: Any, hospital: Any, create_account: Any, create_service_point: Any, room: dict[str, Any]
) -> None:
    till = create_service_point(hospital, kind=ServicePointKind.CASHIER)
    till_counter = qf.create_counter(till)
    cashier = create_account(hospital, roles=(Role.CASHIER,))
    nurse = create_account(hospital, roles=(Role.NURSE,))
    db.session.commit()

    sign_in(client, cashier)
    page = client.get("/queueing/console").get_data(as_text=True)
    assert f'href="/queueing/console/{till_counter.id}"' in page
    assert f'href="/queueing/console/{room["counter"].id}"' not in page

    sign_in(client, nurse)
    page = client.get("/queueing/console").get_data(as_text=True)
    assert f'href="/queueing/console/{room["counter"].id}"' in page
    assert f'href="/queueing/console/{till_counter.id}"' not in page


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN, Role.ADMIN])
def test_the_rooms_own_roles_work_it(
    client: Any, hospital: Any, create_account: Any, room: dict[str, Any], role: Role
) -> None:
    sign_in(client, create_account(hospital, roles=(role,)))
    counter = room["counter"]
    assert client.get(f"/queueing/console/{counter.id}").status_code == 200
    called = client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON)
    assert called.status_code == 200 and called.get_json()["ticket"]["id"] == room["ticket"].id


def test_reading_the_console_is_audited_once_per_named_patient(
    client: Any, hospital: Any, create_account: Any, room: dict[str, Any]
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    db.session.commit()
    sign_in(client, nurse)
    console = client.get(f"{API}/counters/{room['counter'].id}")
    assert console.status_code == 200
    assert [w["patient_name"] for w in console.get_json()["waiting"]] == ["张三明", ""]

    reads = _reads()
    assert [(r.object_type, r.object_id, r.patient_id, r.actor_account_id) for r in reads] == [
        ("ticket", str(room["ticket"].id), room["ticket"].patient_id, nurse.id)
    ]
    assert reads[0].detail == {"counter_id": room["counter"].id}


def _next_snapshot(frames: Any) -> dict[str, Any]:
    buffer = ""
    for chunk in frames:
        buffer += chunk if isinstance(chunk, str) else chunk.decode()
        if "event: snapshot" in buffer and buffer.endswith("\n\n"):
            frame = buffer.split("event: snapshot\n", 1)[1]
            return dict(json.loads(frame.split("data: ", 1)[1].split("\n", 1)[0]))
    raise AssertionError("the stream ended without a snapshot")


def test_a_name_that_appears_on_the_open_console_stream_is_audited_once(
    client: Any,
    hospital: Any,
    create_account: Any,
    create_patient: Any,
    room: dict[str, Any],
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    db.session.commit()
    sign_in(client, nurse)
    response = client.get(f"{API}/counters/{room['counter'].id}/events", buffered=False)
    frames = iter(response.response)
    first = _next_snapshot(frames)
    assert [w["patient_name"] for w in first["waiting"]] == ["张三明", ""]

    later = create_patient(hospital, name="李四华", birth_date=date(1990, 2, 2))
    ticket = qf.walk_in(hospital, room["point"], now=utcnow(), patient_id=later.id)
    db.session.commit()
    shown = _next_snapshot(frames)
    assert "李四华" in [w["patient_name"] for w in shown["waiting"]]
    response.close()

    reads = [(r.patient_id, r.object_id, r.actor_account_id, r.detail) for r in _reads()]
    assert reads == [
        (
            room["ticket"].patient_id,
            str(room["ticket"].id),
            nurse.id,
            {"counter_id": room["counter"].id},
        ),
        (later.id, str(ticket.id), nurse.id, {"counter_id": room["counter"].id, "live": True}),
    ]


def test_opening_the_console_stream_audits_the_names_it_shows(
    client: Any, hospital: Any, create_account: Any, room: dict[str, Any]
) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    db.session.commit()
    sign_in(client, nurse)
    response = client.get(f"{API}/counters/{room['counter'].id}/events")
    assert response.status_code == 200
    response.close()
    reads = _reads()
    assert [r.patient_id for r in reads] == [room["ticket"].patient_id]
