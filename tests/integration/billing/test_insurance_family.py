"""The medical-insurance code (医保电子凭证) and 家庭共济, end to end against the sandbox insurer."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale

from hospital.accounts.models import Account, Role
from hospital.billing import jobs as billing_jobs
from hospital.billing.models import (
    AccountCharge,
    AccountSource,
    ChargeStatus,
    ItemCategory,
    Order,
    OrderStatus,
    RefundKind,
    SandboxInsuranceCode,
)
from hospital.billing.references import OrderRef
from hospital.billing.services import family_pool, insured, refunds
from hospital.billing.services.cancellations import _cancel_order
from hospital.db import db, utcnow
from hospital.errors import Conflict, NotFound
from hospital.notifications.models import OutboxMessage
from hospital.unit_of_work import unit_of_work
from tests.support import factories
from tests.support.auth import sign_in
from tests.support.billing_factories import create_visit_order, pay_in_sandbox
from tests.support.insurance_factories import (
    balance,
    consent_code,
    create_family,
    paid_with_family_help,
    set_balance,
    share,
)


def test_the_person_activates_their_own_code(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, me, _father, _registrar = create_family(hospital)
    voucher = insured.activate(actor=daughter, patient_id=me.id, consent_code=None, now=utcnow())
    assert voucher.consent.value == "self" and voucher.insured_ref.startswith("YBP")
    shown = insured.show_code(actor=daughter, patient_id=me.id, now=utcnow())
    assert shown.code.startswith("YB") and len(shown.code) == 18
    found = insured.patient_for_code(hospital.id, shown.code, place="kiosk", now=utcnow())
    assert found is not None and found.id == me.id
    later = utcnow() + timedelta(minutes=11)
    assert insured.patient_for_code(hospital.id, shown.code, place="kiosk", now=later) is None


def test_a_family_member_needs_the_persons_consent(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, _me, father, _registrar = create_family(
        hospital, father_phone=factories.unique_phone()
    )
    with pytest.raises(Conflict) as refused:
        insured.activate(actor=daughter, patient_id=father.id, consent_code=None, now=utcnow())
    assert refused.value.code == "consent_required"
    assert insured.active_voucher(father.id) is None
    insured.send_consent_code(actor=daughter, patient_id=father.id, now=utcnow())
    code = consent_code(father.phone)
    voucher = insured.activate(
        actor=daughter, patient_id=father.id, consent_code=code, now=utcnow()
    )
    assert voucher.consent.value == "consent_code"


def test_an_elder_without_a_phone_is_activated_at_the_desk(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, _me, father, registrar = create_family(hospital)
    with pytest.raises(Conflict) as refused:
        insured.activate(actor=daughter, patient_id=father.id, consent_code="123456", now=utcnow())
    assert refused.value.code == "consent_at_desk"
    voucher = insured.activate(
        actor=registrar, patient_id=father.id, consent_code=None, now=utcnow()
    )
    assert voucher.consent.value == "desk"


def test_a_stranger_cannot_activate_or_show_a_code(db_session: Any) -> None:
    hospital = factories.create_hospital()
    _daughter, _me, father, _registrar = create_family(hospital)
    stranger = factories.create_account(hospital)
    with pytest.raises(NotFound):
        insured.activate(actor=stranger, patient_id=father.id, consent_code=None, now=utcnow())
    with pytest.raises(NotFound):
        insured.show_code(actor=stranger, patient_id=father.id, now=utcnow())


def test_the_payment_splits_between_fund_own_account_family_account_and_cash(
    db_session: Any,
) -> None:
    hospital = factories.create_hospital()
    daughter, me, father, _registrar = create_family(hospital, activate=True)
    set_balance(father.id, 1000)  # ¥10 in his own account
    grant = share(daughter, father, per_payment_fen=3000, monthly_fen=5000)
    before = balance(me.id)
    # ¥100 medicine: ¥10 deductible, 80% of ¥90 = ¥72 from the fund, ¥28 self-pay
    order = create_visit_order(
        hospital, father, prices=((10000, ItemCategory.MEDICINE),), now=utcnow()
    )
    order = family_pool.pay_with_code(
        order.id, actor=daughter, family_grant_id=grant.id, now=utcnow()
    )
    assert (order.insurance_fen, order.self_pay_fen) == (7200, 2800)
    charges = {c.source: c for c in db.session.scalars(sa.select(AccountCharge)).all()}
    assert charges[AccountSource.PERSONAL].amount_fen == 1000
    assert charges[AccountSource.FAMILY].amount_fen == 1800
    assert order.account_fen == 2800 and order.cash_fen == 0
    assert order.status is OrderStatus.PAID and order.paid_fen == 10000
    assert balance(father.id) == 0 and balance(me.id) == before - 1800
    told = db.session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.recipient == daughter.phone,
            OutboxMessage.template == "billing.family_pool_used",
        )
    ).all()
    assert len(told) == 1


def test_the_per_payment_limit_leaves_the_rest_to_cash(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, me, father, _registrar = create_family(hospital, activate=True)
    set_balance(father.id, 0)
    grant = share(daughter, father, per_payment_fen=1000, monthly_fen=5000)
    order = create_visit_order(
        hospital, father, prices=((5000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    order = family_pool.pay_with_code(
        order.id, actor=daughter, family_grant_id=grant.id, now=utcnow()
    )
    assert order.account_fen == 1000 and order.cash_fen == 4000
    assert order.status is OrderStatus.PENDING
    pay_in_sandbox(order, daughter, now=utcnow())
    db.session.expire_all()
    order = db.session.get_one(Order, order.id)
    assert order.status is OrderStatus.PAID and order.paid_self_fen == 5000
    charge = db.session.scalar(sa.select(AccountCharge))
    assert charge is not None and charge.status is ChargeStatus.SETTLED


def test_the_monthly_limit_holds_across_payments(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, _me, father, _registrar = create_family(hospital, activate=True)
    set_balance(father.id, 0)
    grant = share(daughter, father, per_payment_fen=3000, monthly_fen=4000)
    paid = []
    for key in ("a", "b"):
        order = create_visit_order(
            hospital,
            father,
            prices=((3000, ItemCategory.REGISTRATION),),
            now=utcnow(),
            visit_key=f"visit:{key}",
        )
        order = family_pool.pay_with_code(
            order.id, actor=daughter, family_grant_id=grant.id, now=utcnow()
        )
        paid.append(order.account_fen)
    assert paid == [3000, 1000]
    assert (
        family_pool.used_in_month(grant.id, family_pool.month_of(hospital.id, now=utcnow())) == 4000
    )


def test_a_revoked_grant_pays_nothing_and_only_the_owner_revokes(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, _me, father, _registrar = create_family(hospital, activate=True)
    set_balance(father.id, 0)
    grant = share(daughter, father, per_payment_fen=3000, monthly_fen=4000)
    stranger = factories.create_account(hospital)
    with pytest.raises(NotFound):
        family_pool.revoke(actor=stranger, grant_id=grant.id, now=utcnow())
    family_pool.revoke(actor=daughter, grant_id=grant.id, now=utcnow())
    order = create_visit_order(
        hospital, father, prices=((3000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    with pytest.raises(NotFound) as refused:
        family_pool.pay_with_code(order.id, actor=daughter, family_grant_id=grant.id, now=utcnow())
    assert refused.value.code == "family_pool_not_found"


def test_paying_with_the_code_needs_an_activated_code(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, _me, father, _registrar = create_family(hospital)
    order = create_visit_order(hospital, father, now=utcnow())
    with pytest.raises(Conflict) as refused:
        family_pool.pay_with_code(order.id, actor=daughter, family_grant_id=None, now=utcnow())
    assert refused.value.code == "insurance_not_activated"


def test_refunds_go_back_in_proportion_to_every_source(db_session: Any) -> None:
    hospital = factories.create_hospital()
    order, (daughter, me, father, _registrar) = paid_with_family_help(hospital)
    grant = family_pool.grants_for_patient(actor=daughter, patient_id=father.id, now=utcnow())[
        0
    ].grant
    family_after_pay = balance(me.id)
    cashier = factories.create_account(hospital, roles=(Role.CASHIER,))
    done = refunds.refund_order(
        order.id,
        actor=cashier,
        amount_fen=2000,
        kind=RefundKind.CASHIER,
        reason="退一半",
        now=utcnow(),
    )
    # every part is a refund record: each account's share (credited at once) and the cash half
    parts = {r.source: (r.amount_fen, r.status.value) for r in done}
    assert parts == {
        "personal_account": (500, "succeeded"),
        "family_account": (500, "succeeded"),
        "self_pay": (1000, "succeeded"),
    }
    charges = {c.source: c for c in db.session.scalars(sa.select(AccountCharge)).all()}
    assert charges[AccountSource.PERSONAL].refunded_fen == 500
    assert charges[AccountSource.FAMILY].refunded_fen == 500
    assert balance(father.id) == 500 and balance(me.id) == family_after_pay + 500
    # what was refunded counts no more against the month
    assert (
        family_pool.used_in_month(grant.id, family_pool.month_of(hospital.id, now=utcnow())) == 500
    )
    db.session.expire_all()
    order = db.session.get_one(Order, order.id)
    assert order.status is OrderStatus.PARTIALLY_REFUNDED and order.refunded_fen == 2000


def test_an_order_that_lapses_unpaid_gives_the_accounts_back(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, me, father, _registrar = create_family(hospital, activate=True)
    set_balance(father.id, 0)
    grant = share(daughter, father, per_payment_fen=1000, monthly_fen=5000)
    before = balance(me.id)
    order = create_visit_order(
        hospital, father, prices=((4000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    family_pool.pay_with_code(order.id, actor=daughter, family_grant_id=grant.id, now=utcnow())
    assert balance(me.id) == before - 1000
    _cancel_order(
        hospital.id,
        OrderRef.parse(order.reference),
        reason="cancelled",
        refund="none",
        now=utcnow(),
    )
    assert balance(me.id) == before
    charge = db.session.scalar(sa.select(AccountCharge))
    assert charge is not None and charge.status is ChargeStatus.RELEASED
    assert family_pool.used_in_month(grant.id, family_pool.month_of(hospital.id, now=utcnow())) == 0


THREADS = 6


def test_parallel_payments_never_exceed_the_monthly_limit(
    app: Flask, committed: Any, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite serialises writers: only PostgreSQL runs these payments in parallel")
    with app.app_context(), unit_of_work():
        hospital = factories.create_hospital()
        daughter, _me, father, _registrar = create_family(hospital, activate=True)
        set_balance(father.id, 0)
        grant = share(daughter, father, per_payment_fen=3000, monthly_fen=10000)
        order_ids = [
            create_visit_order(
                hospital,
                father,
                prices=((3000, ItemCategory.REGISTRATION),),
                now=utcnow(),
                visit_key=f"visit:{n}",
            ).id
            for n in range(THREADS)
        ]
        ids = (daughter.id, grant.id, hospital.id)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def pay(order_id: int) -> None:
        with app.app_context():
            start.wait()
            try:
                with unit_of_work():
                    actor = db.session.get_one(Account, ids[0])
                    family_pool.pay_with_code(
                        order_id, actor=actor, family_grant_id=ids[1], now=utcnow()
                    )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=pay, args=(o,)) for o in order_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with app.app_context():
        amounts = sorted(
            db.session.scalars(
                sa.select(AccountCharge.amount_fen).where(AccountCharge.grant_id == ids[1])
            ).all()
        )
        assert sum(amounts) == 10000
        assert amounts == [1000, 3000, 3000, 3000]
        paid = db.session.scalar(sa.select(sa.func.sum(Order.account_fen)))
        assert paid == 10000


def test_the_receipt_names_what_the_insurance_accounts_paid(db_session: Any) -> None:
    import io

    import pypdf

    from hospital.billing import receipts

    hospital = factories.create_hospital()
    daughter, _me, father, _registrar = create_family(hospital, activate=True)
    order = create_visit_order(
        hospital, father, prices=((3000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    order = family_pool.pay_with_code(order.id, actor=daughter, family_grant_id=None, now=utcnow())
    pdf = receipts.receipt_pdf(order)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "家庭共济" in text and "30.00" in text


def test_the_api_refuses_a_grant_whose_owner_turned_her_code_off_and_charges_nothing(
    client: Any, hospital: Any
) -> None:
    daughter, me, father, _registrar = create_family(hospital, activate=True)
    set_balance(father.id, 1000)
    grant = share(daughter, father)
    order = create_visit_order(
        hospital, father, prices=((4000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    db.session.commit()
    sign_in(client, daughter)
    api = "/api/v1/billing"
    assert client.delete(f"{api}/insurance/people/{me.id}/activation", json={}).status_code == 204
    refused = client.post(
        f"{api}/orders/{order.id}/insurance-code-payment",
        json={"family_grant_id": grant.id},
    )
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["code"] == "family_pool_owner_inactive"
    assert "家人已关闭其医保码" in body["message"]  # the daughter's account speaks Chinese
    with force_locale("en"):
        english = str(family_pool.OWNER_INACTIVE)
    assert "family member who shares their insurance account" in english
    assert "turned their medical-insurance code off" in english
    # nothing half-written: his own account's charge went back with the refusal
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountCharge)) == 0
    assert balance(father.id) == 1000


def test_expired_codes_are_forgotten_a_day_later_in_batches(db_session: Any) -> None:
    hospital = factories.create_hospital()
    daughter, me, _father, _registrar = create_family(hospital, activate=True)
    now = utcnow()
    # codes shown three days, two days and an hour ago, and one just now
    for shown_at in (now - timedelta(days=3), now - timedelta(days=2), now - timedelta(hours=1)):
        insured.show_code(actor=daughter, patient_id=me.id, now=shown_at)
    fresh = insured.show_code(actor=daughter, patient_id=me.id, now=now)

    def left() -> int:
        return int(db.session.scalar(sa.select(sa.func.count(SandboxInsuranceCode.id))) or 0)

    assert left() == 4
    assert insured.forget_expired_codes(now=now, batch=1) == 1  # the oldest first
    assert left() == 3
    assert billing_jobs.forget_expired_insurance_codes(now=now) == 1
    assert billing_jobs.forget_expired_insurance_codes(now=now) == 0  # nothing more: idempotent
    assert left() == 2
    # the code that expired an hour ago is kept a day; the fresh one still works
    found = insured.patient_for_code(hospital.id, fresh.code, place="test", now=now)
    assert found is not None and found.id == me.id
    assert billing_jobs.forget_expired_insurance_codes(now=now + timedelta(days=1, minutes=11)) == 2
    assert left() == 0
