"""The visit page and its API: the next step and the timeline at each stage of a visit."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.billing.models import ItemCategory
from hospital.db import db
from hospital.visits.models import Visit
from queueing.services import calling, issuing, serving
from reports.models import ReportSource
from reports.results import IncomingReport, ResultItem
from reports.services import intake, release
from scheduling.services import booking
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import create_visit_order, pay_in_sandbox, registration_order


def _visit(patient_id: int) -> Visit:
    visit = db.session.scalar(sa.select(Visit).where(Visit.patient_id == patient_id))
    assert visit is not None
    return visit


def _api(client: Any, code: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/journey/visits/{code}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _kinds(body: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in body["timeline"]]


def test_next_step_and_timeline_follow_the_visit(client: Any, day: Any) -> None:
    now = day.now
    day.clinic.session.fee_fen = 1500
    held = booking.hold(
        actor=day.account, patient_id=day.patient.id, slot_id=day.bookable_slot().id, now=now
    )
    order = registration_order(held.id)
    assert order is not None
    pay_in_sandbox(order, day.account, now=now)
    db.session.expire_all()
    code = _visit(day.patient.id).code
    sign_in(client, day.account)

    # Booked and paid: check in next, at the clinic's room.
    body = _api(client, code)
    assert body["next_step"]["kind"] == "check_in"
    assert body["next_step"]["place"]["room"] == "201"
    assert _kinds(body)[:2] == ["booked", "paid"]
    assert all(len(e["time"]) == 5 for e in body["timeline"][:2])  # HH:MM, the hospital's zone
    assert all(e["done"] for e in body["timeline"][:2])

    # Checked in: the number, how many ahead, where to wait.
    ticket, _new = issuing.check_in(
        actor=None, hospital_id=day.hospital.id, appointment_id=held.id, now=now
    )
    body = _api(client, code)
    assert body["next_step"]["kind"] == "wait"
    assert body["next_step"]["ticket_code"] == ticket.code
    assert body["next_step"]["ahead"] == 0
    assert "checked_in" in _kinds(body)
    assert [t["code"] for t in body["tickets"]] == [ticket.code]

    # Called: go to the room now.
    calling.call_next(
        actor=day.nurse, hospital_id=day.hospital.id, counter_id=day.counter.id, now=now
    )
    body = _api(client, code)
    assert body["next_step"]["kind"] == "go_now"
    assert "201" in body["next_step"]["title"]
    assert "called" in _kinds(body)

    # Seen: done, until the doctor orders something.
    serving.complete(
        actor=day.nurse, hospital_id=day.hospital.id, counter_id=day.counter.id, now=now
    )
    body = _api(client, code)
    assert body["next_step"]["kind"] == "done"
    assert "seen" in _kinds(body)

    # An order awaits payment: pay it from the phone.
    lab_order = create_visit_order(
        day.hospital, day.patient, prices=((3000, ItemCategory.LAB_TEST),), now=now
    )
    body = _api(client, code)
    assert body["next_step"]["kind"] == "pay_orders"
    assert body["next_step"]["amount_fen"] == 3000
    assert body["next_step"]["order_ids"] == [lab_order.id]
    assert "ordered" in _kinds(body)
    page = client.get(f"/visits/{code}")
    assert page.status_code == 200
    assert f"/billing/orders/{lab_order.id}/pay" in page.get_data(as_text=True)

    pay_in_sandbox(lab_order, day.account, now=now)
    db.session.expire_all()
    body = _api(client, code)
    assert body["next_step"]["kind"] != "pay_orders"
    paid = [e for e in body["timeline"] if e["kind"] == "order_paid"]
    assert paid and paid[0]["done"]

    # The report: in preparation, then ready.
    lab = factories.create_account(day.hospital, roles=(Role.LAB,))
    clinician = factories.create_account(day.hospital, roles=(Role.CLINICIAN,))
    (report,) = intake.receive_results(
        day.hospital,
        [
            IncomingReport(
                medical_record_number=day.patient.medical_record_number,
                test_code="UNKNOWN-TEST",
                test_name="血常规",
                order_reference="",
                signed_by="李检验",
                items=[
                    ResultItem(name="WBC", value="6.1", unit="10^9/L", reference_range="", flag="")
                ],
            )
        ],
        source=ReportSource.STAFF,
        now=now,
        actor=lab,
    )
    body = _api(client, code)
    assert body["next_step"]["kind"] == "report_pending"
    release.release_by_clinician(report, actor=clinician, now=now)
    body = _api(client, code)
    assert body["next_step"]["kind"] == "read_report"
    assert "report_ready" in _kinds(body)
    visit = _visit(day.patient.id)
    db.session.refresh(visit)
    # Booked online, paid online, waited in a virtual queue, report online.
    assert visit.stops_avoided == 4


def test_the_page_shows_the_large_code_in_both_languages(client: Any, day: Any) -> None:
    booked = booking.hold(
        actor=day.account, patient_id=day.patient.id, slot_id=day.bookable_slot().id, now=day.now
    )
    booking.confirm(booked.id, actor=day.account, now=day.now)
    code = _visit(day.patient.id).code
    sign_in(client, day.account)
    zh = client.get(f"/visits/{code}").get_data(as_text=True)
    assert code in zh and "<svg" in zh and "就诊码" in zh and "下一步" in zh
    en = client.get(f"/visits/{code}?lang=en").get_data(as_text=True)
    assert "Visit code" in en and "Next step" in en
    home = client.get("/").get_data(as_text=True)
    assert f"/visits/{code}" in home
    listing = client.get("/api/v1/journey/visits").get_json()
    assert [v["code"] for v in listing] == [code]


def test_another_account_is_refused_and_the_refusal_audited(client: Any, day: Any) -> None:
    booked = booking.hold(
        actor=day.account, patient_id=day.patient.id, slot_id=day.bookable_slot().id, now=day.now
    )
    booking.confirm(booked.id, actor=day.account, now=day.now)
    code = _visit(day.patient.id).code
    stranger = factories.create_account(day.hospital)
    sign_in(client, stranger)
    assert client.get(f"/api/v1/journey/visits/{code}").status_code == 404
    assert client.get(f"/visits/{code}").status_code == 404
    assert client.get("/api/v1/journey/visits/V-NOTAREALCODE").status_code == 404
    denied = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.actor_account_id == stranger.id, AuditEntry.outcome == "denied"
        )
    ).all()
    assert {e.action for e in denied} >= {"journey.visit", "visit.code_refused"}
