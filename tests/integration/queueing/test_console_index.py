"""The staff console index (find your counter) and opening/closing today's queue from the page."""

from __future__ import annotations

import pytest

from hospital.accounts.models import Role
from hospital.db import utcnow
from hospital.errors import Conflict
from hospital.organisation.models import ServicePointKind
from queueing.models import QueueStatus, TicketStatus
from queueing.services import calling
from tests.support import queueing_factories as qf
from tests.support.auth import sign_in

INDEX = "/queueing/console"


@pytest.fixture
def site(hospital, create_department, create_service_point, create_account, client):
    cardiology = create_department(hospital, name_zh="心内科", name_en="Cardiology")
    room = create_service_point(
        hospital, department_id=cardiology.id, name_zh="心内3诊室", name_en="Cardiology room 3"
    )
    cashier = create_service_point(
        hospital, kind=ServicePointKind.CASHIER, name_zh="一楼收费处", name_en="Cashier 1F"
    )
    qf.open_queue(room, now=utcnow())
    room_counter = qf.create_counter(room, code="7")
    cashier_counter = qf.create_counter(cashier, code="2")
    nurse = create_account(hospital, roles=(Role.NURSE,))
    admin = create_account(hospital, roles=(Role.ADMIN,))  # works every queue
    return {
        "room": room,
        "cashier": cashier,
        "room_counter": room_counter,
        "cashier_counter": cashier_counter,
        "nurse": nurse,
        "admin": admin,
        "client": client,
    }


def _queue_state(client, counter_id):
    page = client.get(f"/queueing/console/{counter_id}").get_data(as_text=True)
    return page.split('data-queue-state="', 1)[1].split('"', 1)[0]


def test_index_lists_counters_by_department_with_links_and_todays_state(site, hospital):
    client = site["client"]
    qf.walk_in(hospital, site["room"], now=utcnow())
    qf.walk_in(hospital, site["room"], now=utcnow())
    sign_in(client, site["admin"])
    response = client.get(INDEX)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "心内科" in page or "Cardiology" in page
    assert f'href="/queueing/console/{site["room_counter"].id}"' in page
    assert f'href="/queueing/console/{site["cashier_counter"].id}"' in page
    room_block = page.split(f'data-point="{site["room"].id}"', 1)[1].split("</li>", 1)[0]
    cashier_block = page.split(f'data-point="{site["cashier"].id}"', 1)[1].split("</li>", 1)[0]
    assert 'data-queue-state="open"' in room_block and 'data-waiting="2"' in room_block
    assert 'data-queue-state="none"' in cashier_block


def test_a_patient_gets_403_from_the_console_index(site, hospital, create_account):
    client = site["client"]
    sign_in(client, create_account(hospital, roles=(Role.PATIENT,)))
    response = client.get(INDEX)
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert (
        client.post(f"/queueing/console/{site['cashier_counter'].id}/open-queue").status_code == 403
    )


def test_staff_see_the_console_tile_on_home_and_patients_do_not(site, hospital, create_account):
    client = site["client"]
    sign_in(client, site["nurse"])
    assert f'href="{INDEX}"' in client.get("/").get_data(as_text=True)
    sign_in(client, create_account(hospital, roles=(Role.PATIENT,)))
    assert f'href="{INDEX}"' not in client.get("/").get_data(as_text=True)


def test_open_and_close_through_the_page_change_the_queue_state(site):
    client, counter = site["client"], site["cashier_counter"]
    sign_in(client, site["admin"])
    assert _queue_state(client, counter.id) == "none"

    opened = client.post(f"/queueing/console/{counter.id}/open-queue")
    assert opened.status_code == 303
    assert _queue_state(client, counter.id) == "open"

    confirm = client.get(f"/queueing/console/{counter.id}/close-queue")
    assert confirm.status_code == 200 and 'name="confirm" value="yes"' in confirm.get_data(
        as_text=True
    )
    # Without the confirmation the queue stays open (the confirm page is shown again).
    client.post(f"/queueing/console/{counter.id}/close-queue")
    assert _queue_state(client, counter.id) == "open"

    closed = client.post(f"/queueing/console/{counter.id}/close-queue", data={"confirm": "yes"})
    assert closed.status_code == 303
    assert _queue_state(client, counter.id) == "closed"

    client.post(f"/queueing/console/{counter.id}/open-queue")
    assert _queue_state(client, counter.id) == "open"


def test_closing_with_patients_waiting_keeps_them_waiting_but_stops_new_numbers(site, hospital):
    client, room, counter = site["client"], site["room"], site["room_counter"]
    waiting = qf.walk_in(hospital, room, now=utcnow())
    sign_in(client, site["nurse"])
    confirm = client.get(f"/queueing/console/{counter.id}/close-queue").get_data(as_text=True)
    assert 'data-waiting="1"' in confirm
    client.post(f"/queueing/console/{counter.id}/close-queue", data={"confirm": "yes"})

    assert waiting.queue.status is QueueStatus.CLOSED
    assert waiting.status is TicketStatus.WAITING
    with pytest.raises(Conflict):
        qf.walk_in(hospital, room, now=utcnow())
    called = calling.call_next(
        actor=site["nurse"], hospital_id=hospital.id, counter_id=counter.id, now=utcnow()
    )
    assert called.ticket is not None and called.ticket.id == waiting.id


def test_closing_a_queue_not_opened_today_is_a_404_page(site):
    client = site["client"]
    sign_in(client, site["admin"])
    response = client.get(f"/queueing/console/{site['cashier_counter'].id}/close-queue")
    assert response.status_code == 404


def test_a_counter_of_another_hospital_is_not_found(site, create_hospital, create_service_point):
    other = create_hospital()
    foreign = qf.create_counter(create_service_point(other))
    client = site["client"]
    sign_in(client, site["nurse"])
    assert client.post(f"/queueing/console/{foreign.id}/open-queue").status_code == 404


def test_console_preselects_a_station_not_the_cashier_and_says_guo_hao_for_missed(
    site, hospital, create_service_point
):
    client = site["client"]
    lab = create_service_point(
        hospital, kind=ServicePointKind.LAB_DRAW, name_zh="检验采血处", name_en="Lab draw"
    )
    qf.walk_in(hospital, site["room"], now=utcnow())
    qf.walk_in(hospital, site["room"], now=utcnow())
    sign_in(client, site["nurse"])
    page = client.get(f"/queueing/console/{site['room_counter'].id}?lang=zh").get_data(as_text=True)
    select = page.split('id="q-transfer-to"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{lab.id}" selected>' in select
    assert f'value="{site["cashier"].id}" selected' not in select
    # Missed is the queue's 过号 (not the appointment's 爽约), and each action shows its key.
    assert "过号" in page and "爽约" not in page
    for key in ("N", "R", "S", "C", "M"):
        assert f'aria-keyshortcuts="{key}"' in page
    # One count: the header and the table title start from the same number.
    assert "data-waiting-count>2<" in page and "2 人候诊" in page


def test_default_transfer_target_ranks_lab_first_and_the_cashier_last(
    hospital, create_department, create_service_point
):
    from queueing.pages.console import default_transfer_target

    dept = create_department(hospital)
    room = create_service_point(hospital, department_id=dept.id, code="R1")
    cashier = create_service_point(hospital, kind=ServicePointKind.CASHIER, code="A0")
    other_room = create_service_point(hospital, department_id=dept.id, code="R2")
    assert default_transfer_target(room, [cashier, other_room]) == other_room
    assert default_transfer_target(room, [cashier]) == cashier
    assert default_transfer_target(room, []) is None
    lab = create_service_point(hospital, kind=ServicePointKind.LAB_DRAW, code="L1")
    assert default_transfer_target(room, [cashier, other_room, lab]) == lab
    # From the lab, back to a doctor of the department.
    assert default_transfer_target(lab, [cashier, room]) == room
