"""Every station accepts the visit code; a code it cannot use is refused with a 4xx and audited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.audit.models import AuditEntry
from hospital.billing.models import ItemCategory
from hospital.db import db
from hospital.visits.models import Visit
from hospital.visits.services import hospital_day, visit_for
from queueing.services import issuing
from scheduling.services import booking
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import create_visit_order
from tests.support.kiosk_factories import create_kiosk


def _book(day: Any) -> Visit:
    held = booking.hold(
        actor=day.account, patient_id=day.patient.id, slot_id=day.bookable_slot().id, now=day.now
    )
    booking.confirm(held.id, actor=day.account, now=day.now)
    visit = db.session.scalar(sa.select(Visit).where(Visit.patient_id == day.patient.id))
    assert visit is not None
    db.session.commit()
    return visit


def _foreign_code(day: Any) -> str:
    other = factories.create_hospital()
    code = visit_for(
        hospital_id=other.id,
        patient_id=factories.create_patient(other).id,
        service_date=hospital_day(other.id, day.now),
        now=day.now,
    ).code
    db.session.commit()  # as in life: the request that refuses it rolls back only its own work
    return code


def _other_patients_code(day: Any) -> str:
    """A visit today of another patient of this hospital, with no ticket and no order."""
    code = visit_for(
        hospital_id=day.hospital.id,
        patient_id=factories.create_patient(day.hospital).id,
        service_date=hospital_day(day.hospital.id, day.now),
        now=day.now,
    ).code
    db.session.commit()
    return code


def _refusals(hospital_id: int, station: str) -> list[AuditEntry]:
    return [
        e
        for e in db.session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.hospital_id == hospital_id,
                AuditEntry.action == "visit.code_refused",
                AuditEntry.outcome == "denied",
            )
        )
        if e.detail.get("station") == station
    ]


@pytest.fixture
def kiosk(day: Any, db_session: Any) -> dict[str, str]:
    _device, token = create_kiosk(day.hospital, now=day.now)
    db_session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_kiosk_checks_in_and_reprints_with_the_visit_code(client: Any, day: Any, kiosk: Any):
    code = _book(day).code
    first = client.post("/api/v1/kiosk/check-in", json={"code": code}, headers=kiosk)
    assert first.status_code == 200, first.get_json()
    # The printed slip carries the visit code as a second QR, for a patient without a phone.
    assert f'data-slip-visit-code="{code}"' in first.get_json()["slip_html"]
    again = client.post("/api/v1/kiosk/check-in", json={"code": code.lower()}, headers=kiosk)
    assert again.status_code == 200
    assert again.get_json()["code"] == first.get_json()["code"]
    assert again.get_json()["new"] is False
    reprint = client.post("/api/v1/kiosk/reprint", json={"code": code}, headers=kiosk)
    assert reprint.status_code == 200
    assert reprint.get_json()["code"] == first.get_json()["code"]


def test_a_kiosk_checks_in_through_the_queueing_api_with_the_visit_code(
    client: Any, day: Any, kiosk: Any
):
    code = _book(day).code
    answer = client.post("/api/v1/queueing/check-in", json={"code": code}, headers=kiosk)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "waiting"


def test_kiosk_refuses_unknown_and_other_hospitals_codes(client: Any, day: Any, kiosk: Any):
    foreign = client.post(
        "/api/v1/kiosk/check-in", json={"code": _foreign_code(day)}, headers=kiosk
    )
    assert foreign.status_code == 422
    assert foreign.get_json()["code"] == "other_hospital_code"
    unknown = client.post("/api/v1/kiosk/reprint", json={"code": "V-" + "B" * 24}, headers=kiosk)
    assert unknown.status_code == 404
    assert unknown.get_json()["code"] == "visit_not_found"
    nothing = client.post(
        "/api/v1/kiosk/check-in", json={"code": _other_patients_code(day)}, headers=kiosk
    )
    assert nothing.status_code == 404
    reasons = sorted(e.detail["reason"] for e in _refusals(day.hospital.id, "kiosk"))
    assert reasons == ["nothing_today", "other_hospital", "unknown"]


def test_desk_issues_a_number_for_the_visit_code(client: Any, day: Any):
    code = _book(day).code
    registrar = factories.create_account(day.hospital, roles=(Role.REGISTRAR,))
    sign_in(client, registrar)
    issued = client.post(
        "/queueing/desk",
        data={"service_point_id": str(day.clinic.point.id), "patient_number": code},
    )
    assert issued.status_code == 302, issued.get_data(as_text=True)[:500]
    refused = client.post(
        "/queueing/desk",
        data={"service_point_id": str(day.clinic.point.id), "patient_number": _foreign_code(day)},
    )
    assert refused.status_code == 422
    assert [e.detail["reason"] for e in _refusals(day.hospital.id, "desk")] == ["other_hospital"]
    reads = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "visit.desk.read")
    ).all()
    assert [r.patient_id for r in reads] == [day.patient.id]


def test_counter_console_finds_the_patients_ticket_by_code(client: Any, day: Any):
    visit = _book(day)
    appointment_id = db.session.scalar(
        sa.text("SELECT id FROM appointment WHERE patient_id = :p"), {"p": day.patient.id}
    )
    ticket, _new = issuing.check_in(
        actor=None, hospital_id=day.hospital.id, appointment_id=appointment_id, now=day.now
    )
    sign_in(client, day.nurse)
    found = client.get(f"/queueing/console/{day.counter.id}/find?code={visit.code}")
    assert found.status_code == 200
    assert ticket.code in found.get_data(as_text=True)
    other = client.get(f"/queueing/console/{day.counter.id}/find?code={_other_patients_code(day)}")
    assert other.status_code == 404
    foreign = client.get(f"/queueing/console/{day.counter.id}/find?code={_foreign_code(day)}")
    assert foreign.status_code == 422
    reasons = sorted(e.detail["reason"] for e in _refusals(day.hospital.id, "counter"))
    assert reasons == ["no_ticket_here", "other_hospital"]


def test_cashier_shows_the_visits_orders_by_code(client: Any, day: Any):
    visit = _book(day)
    order = create_visit_order(
        day.hospital, day.patient, prices=((3000, ItemCategory.LAB_TEST),), now=day.now
    )
    cashier = factories.create_account(day.hospital, roles=(Role.CASHIER,))
    sign_in(client, cashier)
    shown = client.get(f"/billing/cashier?code={visit.code}")
    assert shown.status_code == 200
    assert f"/billing/cashier/orders/{order.id}/refund" in shown.get_data(as_text=True) or str(
        order.id
    ) in shown.get_data(as_text=True)
    assert client.get(f"/billing/cashier?code={_other_patients_code(day)}").status_code == 404
    assert client.get(f"/billing/cashier?code={_foreign_code(day)}").status_code == 422
    reasons = sorted(e.detail["reason"] for e in _refusals(day.hospital.id, "cashier"))
    assert reasons == ["no_orders", "other_hospital"]


def test_desk_finds_a_visit_by_code_record_or_id_number(client: Any, day: Any):
    visit = _book(day)
    registrar = factories.create_account(day.hospital, roles=(Role.REGISTRAR,))
    sign_in(client, registrar)
    for query in (visit.code, day.patient.medical_record_number, day.patient.id_number):
        page = client.get("/visits/desk", query_string={"q": query})
        assert page.status_code == 200, query
        assert visit.code in page.get_data(as_text=True)
    assert client.get("/visits/desk", query_string={"q": _foreign_code(day)}).status_code == 422
    assert client.get("/visits/desk", query_string={"q": "V-" + "C" * 24}).status_code == 404
    reads = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.actor_account_id == registrar.id,
            AuditEntry.action.in_(("visit.desk.read", "patient.lookup")),
        )
    ).all()
    assert len(reads) >= 3 and {r.patient_id for r in reads} == {day.patient.id}
    reasons = sorted(e.detail["reason"] for e in _refusals(day.hospital.id, "desk"))
    assert reasons == ["other_hospital", "unknown"]
    patient_account = day.account
    sign_in(client, patient_account)
    assert client.get("/visits/desk", query_string={"q": visit.code}).status_code == 403
