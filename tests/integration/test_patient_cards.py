"""A family carries an elder's code: shown on its phone, printed as a card, revoked, reissued."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pypdf
import pytest
import sqlalchemy as sa

from hospital.accounts.models import Role
from hospital.cards.models import PatientCard
from hospital.db import db, utcnow
from hospital.notifications.models import OutboxMessage
from hospital.patients.models import FamilyLink, Relationship
from tests.support.auth import sign_in
from tests.support.kiosk_factories import create_kiosk


@pytest.fixture
def family(client: Any, create_hospital: Any, create_account: Any, create_patient: Any) -> Any:
    hospital = create_hospital(phone="010-12345678")
    daughter = create_account(hospital)
    create_patient(hospital, account=daughter, name="李梅", phone=daughter.phone)
    father = create_patient(hospital, name="李建华", birth_date=date(1948, 9, 3))
    db.session.add(
        FamilyLink(
            hospital_id=hospital.id,
            account_id=daughter.id,
            patient_id=father.id,
            relationship=Relationship.PARENT,
        )
    )
    db.session.flush()
    sign_in(client, daughter)
    return hospital, daughter, father


def _active(patient_id: int) -> PatientCard | None:
    return db.session.scalar(
        sa.select(PatientCard).where(
            PatientCard.patient_id == patient_id, PatientCard.revoked_at.is_(None)
        )
    )


def test_the_daughter_switches_to_her_father_and_makes_his_code(client: Any, family: Any) -> None:
    hospital, daughter, father = family
    page = client.get("/family/codes").get_data(as_text=True)
    assert f'data-person="{father.id}"' in page and "李*华" in page and "李建华" not in page
    page = client.get(f"/family/codes?patient={father.id}").get_data(as_text=True)
    assert f'data-chosen="{father.id}"' in page and "data-issue" in page
    assert client.post(f"/family/codes/{father.id}/issue").status_code == 302
    card = _active(father.id)
    assert card is not None and card.code.startswith("HC") and len(card.code) == 18
    page = client.get(f"/family/codes?patient={father.id}").get_data(as_text=True)
    assert f'data-patient-code="{card.code}"' in page and "<svg" in page


def test_the_wallet_card_masks_the_name_and_gives_the_hospitals_phone(
    client: Any, family: Any
) -> None:
    _hospital, _daughter, father = family
    response = client.get(f"/family/codes/{father.id}/card.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    card = _active(father.id)
    assert card is not None
    assert "李*华" in text and "李建华" not in text
    assert "010-12345678" in text
    assert card.code[2:6] in text


def test_a_kiosk_accepts_the_card_and_the_family_is_told(
    client: Any, family: Any, app: Any
) -> None:
    hospital, daughter, father = family
    client.post(f"/family/codes/{father.id}/issue")
    code = _active(father.id).code  # type: ignore[union-attr]
    from hospital.accounts.guards import device_for_token
    from kiosk.services import identity

    _device, token = create_kiosk(hospital, now=utcnow())
    device = device_for_token(token)
    found = identity.patient_for_identity(device, code, now=utcnow())
    assert found is not None and found.id == father.id
    told = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.recipient == daughter.phone)
    ).all()
    assert any(m.template == "cards.used" for m in told)


def test_a_revoked_or_replaced_card_no_longer_works(client: Any, family: Any) -> None:
    hospital, _daughter, father = family
    client.post(f"/family/codes/{father.id}/issue")
    old = _active(father.id).code  # type: ignore[union-attr]
    client.post(f"/family/codes/{father.id}/issue")
    new = _active(father.id).code  # type: ignore[union-attr]
    assert old != new
    from hospital.accounts.guards import device_for_token
    from kiosk.services import identity

    _device, token = create_kiosk(hospital, now=utcnow())
    device = device_for_token(token)
    assert identity.patient_for_identity(device, old, now=utcnow()) is None
    assert identity.patient_for_identity(device, new, now=utcnow()) is not None
    client.post(f"/family/codes/{father.id}/revoke")
    assert _active(father.id) is None
    assert identity.patient_for_identity(device, new, now=utcnow()) is None


def test_the_desk_finds_the_patient_by_card(client: Any, family: Any, create_account: Any) -> None:
    hospital, _daughter, father = family
    client.post(f"/family/codes/{father.id}/issue")
    code = _active(father.id).code  # type: ignore[union-attr]
    from hospital.patients.services.records import look_up_at_desk

    registrar = create_account(hospital, roles=(Role.REGISTRAR,))
    found = look_up_at_desk(staff=registrar, text=code)
    assert found is not None and found.id == father.id


def test_a_stranger_cannot_make_or_print_someone_elses_card(
    client: Any, family: Any, create_account: Any
) -> None:
    hospital, _daughter, father = family
    sign_in(client, create_account(hospital))
    assert client.post(f"/family/codes/{father.id}/issue").status_code == 404
    assert client.get(f"/family/codes/{father.id}/card.pdf").status_code == 404
    assert _active(father.id) is None
    page = client.get(f"/family/codes?patient={father.id}").get_data(as_text=True)
    assert f'data-chosen="{father.id}"' not in page


def test_the_demo_daughter_carries_her_fathers_card(db_session: Any) -> None:
    from hospital.cards.demo import seed_card
    from hospital.demo import seed_hospital, seed_patients

    now = utcnow()
    hospital = seed_hospital(now=now)
    seed_patients(hospital, now=now)
    seed_card(hospital, now=now)
    seed_card(hospital, now=now)
    cards = db.session.scalars(
        sa.select(PatientCard).where(PatientCard.hospital_id == hospital.id)
    ).all()
    assert len(cards) == 1 and cards[0].revoked_at is None
    from hospital.patients.models import Patient

    assert db.session.get(Patient, cards[0].patient_id).name == "李建华"  # type: ignore[union-attr]
