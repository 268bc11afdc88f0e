"""The insurance code on the phone, at the kiosk, the desk and the cashier, and its REST API."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from hospital.accounts.guards import device_for_token
from hospital.accounts.models import Role
from hospital.billing.models import AccountCharge, ItemCategory, Order, OrderStatus
from hospital.billing.services import family_pool, insured
from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from hospital.patients.services.records import look_up_at_desk
from kiosk.services import identity
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import create_visit_order
from tests.support.insurance_factories import create_family, set_balance, share
from tests.support.kiosk_factories import create_kiosk

CODE = re.compile(r'data-insurance-code="(YB[0-9A-Z]{16})"')


@pytest.fixture
def family(client: Any) -> Any:
    hospital = factories.create_hospital()
    daughter, me, father, registrar = create_family(hospital)
    sign_in(client, daughter)
    return hospital, daughter, me, father, registrar


def test_the_daughter_activates_shares_and_shows_her_fathers_code(client: Any, family: Any) -> None:
    hospital, daughter, me, father, registrar = family
    page = client.get(f"/billing/insurance/?patient={father.id}").get_data(as_text=True)
    assert "data-desk" in page and "李*华" in page and "李建华" not in page
    # no phone: refused without the desk
    client.post(f"/billing/insurance/{father.id}/activate", data={"consent_code": "123456"})
    assert insured.active_voucher(father.id) is None
    # the desk activates it, from his record number
    sign_in(client, registrar)
    page = client.post(
        "/billing/insurance/desk", data={"patient_number": father.medical_record_number}
    ).get_data(as_text=True)
    assert "data-activated" in page
    sign_in(client, daughter)
    assert client.post(f"/billing/insurance/{me.id}/activate").status_code == 302
    assert insured.active_voucher(me.id) is not None
    response = client.post(
        "/billing/insurance/family-pool",
        data={"beneficiary": str(father.id), "per_payment": "50", "monthly": "200.50"},
    )
    assert response.status_code == 302
    grants = family_pool.grants_given(actor=daughter, now=utcnow())
    assert [(g.grant.per_payment_limit_fen, g.grant.monthly_limit_fen) for g in grants] == [
        (5000, 20050)
    ]
    page = client.get(f"/billing/insurance/?patient={father.id}").get_data(as_text=True)
    found = CODE.search(page)
    assert found and "<svg" in page and "data-usable" in page
    code = found.group(1)
    # the kiosk and the desk accept it like a patient card
    _device, token = create_kiosk(hospital, now=utcnow())
    kiosk = device_for_token(token)
    assert kiosk is not None
    by_kiosk = identity.patient_for_identity(kiosk, code, now=utcnow())
    assert by_kiosk is not None and by_kiosk.id == father.id
    by_desk = look_up_at_desk(staff=registrar, text=code.lower())
    assert by_desk is not None and by_desk.id == father.id


def test_elder_mode_and_english_show_the_page(client: Any, family: Any) -> None:
    _hospital, daughter, me, _father, _registrar = family
    insured.activate(actor=daughter, patient_id=me.id, consent_code=None, now=utcnow())
    db.session.commit()
    client.post("/elder-mode/on")
    page = client.get(f"/billing/insurance/?patient={me.id}").get_data(as_text=True)
    assert 'class="elder' in page and "医保" in page
    client.get("/language/en")
    page = client.get(f"/billing/insurance/?patient={me.id}").get_data(as_text=True)
    assert "Medical insurance code" in page and "data-insurance-code" in page


def test_paying_on_the_phone_from_the_daughters_balance_and_the_cashier_scans(
    client: Any, family: Any, app: Any
) -> None:
    hospital, daughter, me, father, registrar = family
    insured.activate(actor=registrar, patient_id=father.id, consent_code=None, now=utcnow())
    insured.activate(actor=daughter, patient_id=me.id, consent_code=None, now=utcnow())
    grant = share(daughter, father, per_payment_fen=5000, monthly_fen=20000)
    set_balance(father.id, 0)
    order = create_visit_order(
        hospital, father, prices=((3000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    db.session.commit()
    page = client.get(f"/billing/orders/{order.id}/pay").get_data(as_text=True)
    assert 'data-action="insurance-code"' in page and f'data-family-grant="{grant.id}"' in page
    response = client.post(
        f"/billing/orders/{order.id}/pay",
        data={"action": "insurance_code", "family_grant": str(grant.id)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    paid = db.session.get_one(Order, order.id)
    assert paid.status is OrderStatus.PAID and paid.account_fen == 3000
    told = db.session.scalars(
        sa.select(OutboxMessage.template).where(OutboxMessage.recipient == daughter.phone)
    ).all()
    assert "billing.family_pool_used" in told
    cashier = factories.create_account(hospital, roles=(Role.CASHIER,))
    shown = insured.show_code(actor=daughter, patient_id=father.id, now=utcnow())
    db.session.commit()
    sign_in(client, cashier)
    page = client.get(f"/billing/cashier?code={shown.code}").get_data(as_text=True)
    assert f'data-order="{order.id}"' in page
    assert client.get("/billing/cashier?code=YB2222222222222222").status_code == 404


def test_the_rest_api_activates_shares_shows_and_pays(client: Any, family: Any) -> None:
    hospital, daughter, me, father, registrar = family
    api = "/api/v1/billing"
    refused = client.post(f"{api}/insurance/people/{father.id}/activation", json={})
    assert refused.status_code == 409 and refused.get_json()["code"] == "consent_at_desk"
    mine = client.post(f"{api}/insurance/people/{me.id}/activation", json={})
    assert mine.status_code == 200 and mine.get_json()["consent"] == "self"
    people = {p["patient_id"]: p for p in client.get(f"{api}/insurance/people").get_json()}
    assert people[me.id]["activated"] and people[me.id]["balance_fen"] == 50000
    assert not people[father.id]["activated"] and people[father.id]["masked_name"] == "李*华"
    given = client.post(
        f"{api}/insurance/family-pool",
        json={
            "beneficiary_patient_id": father.id,
            "per_payment_limit_fen": 9000,
            "monthly_limit_fen": 6000,
        },
    )
    assert given.status_code == 201
    body = given.get_json()
    assert body["per_payment_limit_fen"] == 6000 and body["beneficiary_masked_name"] == "李*华"
    sign_in(client, registrar)
    assert client.post(f"{api}/insurance/people/{father.id}/activation", json={}).status_code == 200
    sign_in(client, daughter)
    shown = client.post(f"{api}/insurance/people/{father.id}/code", json={})
    assert shown.status_code == 201 and shown.get_json()["code"].startswith("YB")
    order = create_visit_order(
        hospital, father, prices=((3000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    db.session.commit()
    paid = client.post(
        f"{api}/orders/{order.id}/insurance-code-payment", json={"family_grant_id": body["id"]}
    )
    assert paid.status_code == 200
    out = paid.get_json()
    # his own account (¥500 opening balance) covers the ¥30: the family pays nothing
    assert out["status"] == "paid" and out["account_fen"] == 3000 and out["cash_fen"] == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountCharge)) == 1
    revoked = client.delete(f"{api}/insurance/family-pool/{body['id']}", json={})
    assert revoked.status_code == 200 and revoked.get_json()["revoked"] is True
    assert client.get(f"{api}/insurance/family-pool").get_json() == []
    stranger = factories.create_account(hospital)
    sign_in(client, stranger)
    assert client.post(f"{api}/insurance/people/{father.id}/code", json={}).status_code == 404
