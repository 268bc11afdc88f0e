"""The demo's insured elder: his daughter shows his insurance code and pays from her balance."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from hospital.accounts.models import Account
from hospital.billing.models import AccountCharge, AccountSource, ItemCategory, OrderStatus
from hospital.billing.services import family_pool, insured
from hospital.db import db, utcnow
from hospital.organisation.models import Hospital
from hospital.patients.models import FamilyLink, Relationship
from hospital.unit_of_work import unit_of_work
from tests.support.billing_factories import create_visit_order


def test_the_daughter_shows_her_fathers_code_and_pays_from_her_balance(
    app: Flask, committed: Any
) -> None:
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    with app.app_context(), unit_of_work():
        hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == "DEMO"))
        daughter = db.session.scalar(sa.select(Account).where(Account.phone == "13800000001"))
        assert hospital is not None and daughter is not None
        link = db.session.scalar(
            sa.select(FamilyLink).where(
                FamilyLink.account_id == daughter.id,
                FamilyLink.relationship == Relationship.PARENT,
            )
        )
        assert link is not None
        father_id = link.patient_id
        assert insured.active_voucher(father_id) is not None
        shown = insured.show_code(actor=daughter, patient_id=father_id, now=utcnow())
        found = insured.patient_for_code(hospital.id, shown.code, place="test", now=utcnow())
        assert found is not None and found.id == father_id
        (grant,) = family_pool.grants_for_patient(
            actor=daughter, patient_id=father_id, now=utcnow()
        )
        order = create_visit_order(
            hospital,
            found,
            prices=((5000, ItemCategory.REGISTRATION),),
            now=utcnow(),
            visit_key="demo-insurance",
        )
        paid = family_pool.pay_with_code(
            order.id, actor=daughter, family_grant_id=grant.grant.id, now=utcnow()
        )
        charges = {
            c.source: c.amount_fen
            for c in db.session.scalars(
                sa.select(AccountCharge).where(AccountCharge.order_id == order.id)
            )
        }
        assert charges == {AccountSource.PERSONAL: 2000, AccountSource.FAMILY: 3000}
        assert paid.status is OrderStatus.PAID
