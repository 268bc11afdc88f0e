"""Medical-insurance test set-up: a daughter who pays for her father, their codes and balances.

One builder for every insurance test (service, pages, REST, refunds, browser): the daughter's
account with her own profile, her father linked as a parent, optionally both codes activated
(his at the desk, hers herself) and her 家庭共济 grant to him.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, NamedTuple

import sqlalchemy as sa

from hospital.accounts.models import Account, Role
from hospital.billing.models import FamilyPoolGrant, ItemCategory, Order, SandboxInsured
from hospital.billing.services import family_pool, insured
from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from hospital.patients.models import Patient, Relationship
from tests.support import factories
from tests.support.billing_factories import create_visit_order, pay_in_sandbox
from tests.support.factories import make_resident_id

DAUGHTER_BIRTH = date(1978, 5, 12)
FATHER_BIRTH = date(1948, 9, 3)


class InsuredFamily(NamedTuple):
    daughter: Account  # the account
    me: Patient  # the daughter's own profile
    father: Patient
    registrar: Account  # activates the father's code at the desk


def create_family(
    hospital: Any,
    *,
    daughter_phone: str | None = None,
    father_phone: str | None = None,
    activate: bool = False,
) -> InsuredFamily:
    """李梅's account with her own profile and her father 李建华 linked as a parent.

    activate: his code is activated at the desk (he has no phone) and hers by herself.
    """
    daughter = factories.create_account(
        hospital, **({"phone": daughter_phone} if daughter_phone else {})
    )
    me = factories.create_patient(
        hospital,
        account=daughter,
        name="李梅",
        phone=daughter.phone,
        birth_date=DAUGHTER_BIRTH,
        id_number=make_resident_id(DAUGHTER_BIRTH, male=False),
    )
    father = factories.create_patient(
        hospital,
        account=daughter,
        relationship=Relationship.PARENT,
        name="李建华",
        phone=father_phone,
        birth_date=FATHER_BIRTH,
    )
    registrar = factories.create_account(hospital, roles=(Role.REGISTRAR,))
    db.session.flush()
    family = InsuredFamily(daughter, me, father, registrar)
    if activate:
        activate_both(family)
    return family


def activate_both(family: InsuredFamily) -> None:
    """His code at the desk, hers by herself."""
    insured.activate(
        actor=family.registrar, patient_id=family.father.id, consent_code=None, now=utcnow()
    )
    insured.activate(
        actor=family.daughter, patient_id=family.me.id, consent_code=None, now=utcnow()
    )


def share(
    daughter: Account, father: Patient, *, per_payment_fen: int = 3000, monthly_fen: int = 5000
) -> FamilyPoolGrant:
    """The daughter's own insurance account pays for her father (家庭共济) within the limits."""
    return family_pool.grant(
        actor=daughter,
        beneficiary_patient_id=father.id,
        per_payment_limit_fen=per_payment_fen,
        monthly_limit_fen=monthly_fen,
        now=utcnow(),
    )


def paid_with_family_help(hospital: Any) -> tuple[Order, InsuredFamily]:
    """A ¥40 registration for the father, paid ¥10 from his account, ¥10 from hers, ¥20 cash.

    Registration is not covered by the fund, so every fen is self-pay: his account holds ¥10,
    her grant allows ¥10 a payment, and the cash is paid in the sandbox.
    """
    family = create_family(hospital, activate=True)
    set_balance(family.father.id, 1000)
    grant = share(family.daughter, family.father, per_payment_fen=1000, monthly_fen=5000)
    order = create_visit_order(
        hospital, family.father, prices=((4000, ItemCategory.REGISTRATION),), now=utcnow()
    )
    order = family_pool.pay_with_code(
        order.id, actor=family.daughter, family_grant_id=grant.id, now=utcnow()
    )
    pay_in_sandbox(order, family.daughter, now=utcnow())
    db.session.expire_all()
    return db.session.get_one(Order, order.id), family


def balance(patient_id: int) -> int:
    """The personal account's balance at the sandbox insurer (the code must be active)."""
    value = insured.balance_of(patient_id)
    assert value is not None
    return value


def set_balance(patient_id: int, fen: int) -> None:
    voucher = insured.active_voucher(patient_id)
    assert voucher is not None
    db.session.execute(
        sa.update(SandboxInsured)
        .where(SandboxInsured.insured_ref == voucher.insured_ref)
        .values(balance_fen=fen)
    )


def consent_code(phone: str) -> str:
    """The last consent code texted to phone (the insured person agrees to an activation)."""
    body = db.session.scalar(
        sa.select(OutboxMessage.body)
        .where(
            OutboxMessage.recipient == phone,
            OutboxMessage.template == insured.CONSENT_TEMPLATE,
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    assert body is not None
    found = re.search(r"(?<!\d)(\d{6})(?!\d)", body)
    assert found
    return found.group(1)
