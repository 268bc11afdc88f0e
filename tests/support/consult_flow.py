"""Steps shared by the consultation tests."""

from __future__ import annotations

from consult.models import Consultation
from consult.services import asking
from hospital.db import db
from tests.support.billing_factories import pay_in_sandbox
from tests.support.consult_factories import ConsultWorld, fee_order


def paid_question(
    world: ConsultWorld, question: str = "报告说谷丙转氨酶偏高，怎么办？"
) -> Consultation:
    """The daughter asks the father's doctor and pays the fee at the sandbox."""
    consultation = asking.ask(
        actor=world.daughter,
        patient_id=world.father.id,
        clinician_id=world.doctor.id,
        question=question,
        emergency_acknowledged=False,
        now=world.now,
    )
    pay_in_sandbox(fee_order(consultation.order_id or 0), world.daughter, now=world.now)
    db.session.expire_all()
    found = db.session.get(Consultation, consultation.id)
    assert found is not None
    return found
