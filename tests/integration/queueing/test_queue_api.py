"""The queueing REST API and event streams: happy paths, bad input, masking."""

from __future__ import annotations

import json
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.zones import local_date
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in

API = "/api/v1/queueing"
JSON = {"X-Requested-With": "test"}


@pytest.fixture
def setup(hospital, create_service_point, create_account, create_patient, client):
    point = create_service_point(hospital, room="305", floor="3", directions_zh="电梯右转")
    qf.open_queue(point, now=utcnow())
    counter = qf.create_counter(point)
    nurse = create_account(hospital, roles=(Role.NURSE,))
    patient = create_patient(
        hospital, name="张三明", phone="13812345678", birth_date=date(1990, 5, 1)
    )
    sign_in(client, nurse)
    return {
        "point": point,
        "counter": counter,
        "nurse": nurse,
        "patient": patient,
        "client": client,
    }


def _walk_in(client, point, patient=None):
    body = {"service_point_id": point.id}
    if patient is not None:
        body["patient_id"] = patient.id
    response = client.post(f"{API}/tickets", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_nurse_issues_calls_and_completes_through_the_api(setup):
    client, point, counter = setup["client"], setup["point"], setup["counter"]
    ticket = _walk_in(client, point, setup["patient"])
    assert ticket["code"] == "A001" and ticket["link"].endswith(f"/q/{ticket['token']}")
    first = client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON)
    again = client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON)
    assert first.status_code == 200 and first.get_json()["ticket"]["id"] == ticket["id"]
    assert again.get_json()["repeated"] is True and again.get_json()["ticket"]["id"] == ticket["id"]
    assert client.post(f"{API}/counters/{counter.id}/start", json={}).status_code == 200
    done = client.post(f"{API}/counters/{counter.id}/complete", json={"ticket_id": ticket["id"]})
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    console = client.get(f"{API}/counters/{counter.id}").get_json()
    assert console["served"] == 1


def test_ticket_and_board_payloads_never_carry_name_phone_or_id_number(setup):
    client, point, counter, patient = (
        setup["client"],
        setup["point"],
        setup["counter"],
        setup["patient"],
    )
    mine = _walk_in(client, point, patient)
    _walk_in(client, point, patient=None)
    client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON)
    _walk_in(client, point, patient)  # a second ticket waiting, shown on the board's "next"
    payloads = [
        json.dumps(client.get(f"{API}/tickets/{mine['token']}").get_json(), ensure_ascii=False),
        json.dumps(client.get(f"{API}/board?points={point.id}").get_json(), ensure_ascii=False),
    ]
    for text in payloads:
        assert "张*明" in text
        for secret in (
            patient.name,
            patient.phone,
            patient.id_number,
            patient.medical_record_number,
        ):
            assert secret not in text
    board = json.loads(payloads[1])
    assert board["calls"][0]["code"] == "A001" and board["calls"][0]["room"] == "305"
    ticket = json.loads(payloads[0])
    assert ticket["status"] == "called" and ticket["place"]["directions_zh"] == "电梯右转"


def test_ticket_page_shows_people_ahead_and_an_eta_range(setup):
    client, point = setup["client"], setup["point"]
    for _ in range(3):
        _walk_in(client, point)
    mine = _walk_in(client, point)
    data = client.get(f"{API}/tickets/{mine['token']}").get_json()
    assert data["ahead"] == 3
    # Default 5 min per patient, one counter: 15 min expected; until the queue has judged enough
    # ranges to calibrate, the range is 0.7-1.4 times that, rounded outward (issue 17).
    assert data["eta"] == {"low_minutes": 10, "high_minutes": 25}
    page = client.get(f"/q/{mine['token']}")
    assert page.status_code == 200 and 'aria-live="polite"' in page.get_data(as_text=True)


@pytest.mark.parametrize("token", ["x" * 22, "short", "A001", "../../etc/passwd" + "x" * 10])
def test_forged_or_unknown_ticket_token_is_a_404_with_a_message(client, hospital, token):
    response = client.get(f"{API}/tickets/{token}")
    assert response.status_code == 404
    assert response.get_json()["code"] in ("ticket_not_found", "not_found")
    assert response.get_json()["message"]
    assert client.get(f"/q/{'y' * 22}").status_code == 404


def test_bad_input_gets_4xx_with_messages(setup, create_service_point, create_account, hospital):
    client, point, counter = setup["client"], setup["point"], setup["counter"]
    never_called = _walk_in(client, point)
    r = client.post(f"{API}/counters/{counter.id}/complete", json={"ticket_id": never_called["id"]})
    assert r.status_code == 409 and r.get_json()["code"] == "ticket_not_called"
    closed = create_service_point(hospital, kind="lab_draw")
    lab_queue = qf.open_queue(closed, now=utcnow())
    # The lab works the lab's queue (a nurse may not close it): a lab user closes it.
    sign_in(client, create_account(hospital, roles=(Role.LAB,)))
    assert client.post(f"{API}/queues/{lab_queue.id}/close", headers=JSON).status_code == 200
    sign_in(client, setup["nurse"])
    client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON)
    r = client.post(
        f"{API}/counters/{counter.id}/transfer", json={"to_service_point_id": closed.id}
    )
    assert r.status_code == 409 and r.get_json()["code"] == "queue_closed"
    client.post(f"{API}/counters/{counter.id}/complete", json={})
    # Pausing asks for a reason and an expected length (issue 17).
    r = client.post(f"{API}/counters/{counter.id}/pause", headers=JSON)
    assert r.status_code == 422
    r = client.post(f"{API}/counters/{counter.id}/pause", json={"reason": "lunch", "minutes": 0})
    assert r.status_code == 422 and "minutes" in r.get_json()["message"]
    r = client.post(f"{API}/counters/{counter.id}/pause", json={"reason": "lunch", "minutes": 20})
    assert r.status_code == 200 and r.get_json()["pause_reason"] == "lunch"
    assert r.get_json()["paused_until"] is not None
    r = client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON)
    assert r.status_code == 409 and r.get_json()["code"] == "counter_paused"
    r = client.post(f"{API}/tickets", json={"service_point_id": "1"})
    assert r.status_code == 422 and "service_point_id" in r.get_json()["message"]
    r = client.post(f"{API}/tickets", json={"service_point_id": point.id, "status": "done"})
    assert r.status_code == 422
    r = client.post(
        f"{API}/counters/{counter.id}/call", json={"ticket_id": never_called["id"], "reason": ""}
    )
    assert r.status_code == 422
    r = client.post(f"{API}/counters/999999/call-next", headers=JSON)
    assert r.status_code == 404
    r = client.patch(f"{API}/tickets/{never_called['token']}", json={"notify_ahead": 0})
    assert r.status_code == 422
    r = client.get(f"{API}/board?points=abc")
    assert r.status_code == 422


def test_patients_cannot_call_tickets(client, hospital, create_account, create_service_point):
    point = create_service_point(hospital)
    qf.open_queue(point, now=utcnow())
    counter = qf.create_counter(point)
    sign_in(client, create_account(hospital))
    assert client.post(f"{API}/counters/{counter.id}/call-next", headers=JSON).status_code == 403
    assert client.post(f"{API}/tickets", json={"service_point_id": point.id}).status_code == 403


def _first_snapshot(response) -> dict:
    buffer = ""
    for chunk in response.response:
        buffer += chunk if isinstance(chunk, str) else chunk.decode()
        if "event: snapshot" in buffer and buffer.endswith("\n\n"):
            break
    response.close()
    frame = buffer.split("event: snapshot\n", 1)[1]
    return json.loads(frame.split("data: ", 1)[1].split("\n", 1)[0])


def test_streams_start_with_a_full_snapshot(setup):
    client, point, counter = setup["client"], setup["point"], setup["counter"]
    mine = _walk_in(client, point, setup["patient"])
    response = client.get(f"{API}/tickets/{mine['token']}/events", buffered=False)
    assert response.mimetype == "text/event-stream"
    assert _first_snapshot(response)["code"] == "A001"
    board = _first_snapshot(client.get(f"{API}/board/events?points={point.id}", buffered=False))
    assert board["queues"][0]["next_waiting"][0]["masked_name"] == "张*明"
    console = _first_snapshot(client.get(f"{API}/counters/{counter.id}/events", buffered=False))
    assert console["waiting"][0]["reason"] == "arrival_order"


def test_open_queue_twice_returns_the_same_queue(setup):
    client, point = setup["client"], setup["point"]
    a = client.post(f"{API}/queues", json={"service_point_id": point.id}).get_json()
    b = client.post(f"{API}/queues", json={"service_point_id": point.id}).get_json()
    assert a["id"] == b["id"]
    assert local_date(utcnow(), ZoneInfo("Asia/Shanghai")).isoformat() == a["service_day"]


def test_ticket_qr_encodes_only_the_ticket_page_link(setup, monkeypatch):
    import hospital.qr

    client, point, patient = setup["client"], setup["point"], setup["patient"]
    mine = _walk_in(client, point, patient)
    encoded: list[str] = []
    real = hospital.qr.qr_svg
    monkeypatch.setattr(
        hospital.qr, "qr_svg", lambda data, **kw: encoded.append(data) or real(data, **kw)
    )
    response = client.get(f"{API}/tickets/{mine['token']}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert encoded == [f"http://hospital.test/q/{mine['token']}"]
    page = client.get(f"/q/{mine['token']}").get_data(as_text=True)
    # A walk-in starts a visit: its page leads to the one visit code instead of a second QR.
    assert 'data-action="visit-code"' in page and patient.name not in page


def test_a_department_board_shows_its_rooms_queues(
    client, hospital, create_department, create_service_point
):
    department = create_department(hospital)
    rooms = [create_service_point(hospital, department_id=department.id) for _ in range(2)]
    elsewhere = create_service_point(hospital)
    for point in (*rooms, elsewhere):
        qf.open_queue(point, now=utcnow())
    board = client.get(f"{API}/board?department={department.id}").get_json()
    assert {q["name_en"] for q in board["queues"]} == {r.name_en for r in rooms}
    assert client.get(f"/queueing/board?department={department.id}").status_code == 200
    assert client.get("/queueing/board").status_code == 422
    # The API has no combination it refuses (a query string cannot document one): both scopes
    # together show both, and neither shows the whole hospital.
    both = client.get(f"{API}/board?department={department.id}&points={elsewhere.id}").get_json()
    assert {q["name_en"] for q in both["queues"]} == {p.name_en for p in (*rooms, elsewhere)}
    everything = client.get(f"{API}/board").get_json()
    assert {q["name_en"] for q in everything["queues"]} == {p.name_en for p in (*rooms, elsewhere)}


def test_a_kiosk_cannot_skip_the_walk_in_fee_through_the_queue_api(
    client, hospital, create_service_point
):
    from tests.support.billing_factories import create_registration_fee
    from tests.support.kiosk_factories import create_kiosk

    point = create_service_point(hospital)
    qf.open_queue(point, now=utcnow())
    _device, token = create_kiosk(hospital, now=utcnow())
    kiosk = {"Authorization": f"Bearer {token}"}
    free = client.post(f"{API}/tickets", json={"service_point_id": point.id}, headers=kiosk)
    assert free.status_code == 201  # no walk-in fee: the kiosk may issue directly
    create_registration_fee(hospital, fee_class="general", amount_fen=1000)
    refused = client.post(f"{API}/tickets", json={"service_point_id": point.id}, headers=kiosk)
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "walk_in_fee_due"
    from hospital.db import db
    from queueing.models import Ticket

    assert db.session.query(Ticket).count() == 1  # the refused call issued nothing
