"""The kiosk cannot be used to find out who is a patient here (issue 12, #9)."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from tests.integration.kiosk.conftest import KioskWorld
from tests.support.factories import make_resident_id
from tests.support.kiosk_factories import create_kiosk

UNKNOWN = make_resident_id(date(1949, 12, 31), serial=2)


def _ask(client: Any, world: KioskWorld, path: str, id_number: str, **extra: Any) -> Any:
    return client.post(
        f"/api/v1/kiosk/{path}", json={"id_number": id_number, **extra}, headers=world.headers
    )


def test_an_unknown_number_answers_as_a_known_one_with_nothing_today(
    kiosk_client: Any, world: KioskWorld, create_patient: Any
) -> None:
    known = create_patient(world.hospital, name="王五", birth_date=date(1960, 3, 3))
    db.session.commit()
    assert known.id_number and known.id_number != UNKNOWN
    for path, extra in (("appointments", {}), ("check-in", {"appointment_id": 1})):
        for_known = _ask(kiosk_client, world, path, known.id_number, **extra)
        for_unknown = _ask(kiosk_client, world, path, UNKNOWN, **extra)
        assert for_known.status_code == for_unknown.status_code == 404, path
        assert for_known.get_json() == for_unknown.get_json(), path
        body = for_unknown.get_json()
        assert body["code"] == "no_appointment_today"
        assert "挂号处" in body["message"]  # the registration desk (zh by default)
    known_reprint = _ask(kiosk_client, world, "reprint", known.id_number)
    unknown_reprint = _ask(kiosk_client, world, "reprint", UNKNOWN)
    assert known_reprint.status_code == unknown_reprint.status_code == 404
    assert known_reprint.get_json() == unknown_reprint.get_json()


def test_identity_lookups_are_limited_per_kiosk_with_retry_after(
    app: Any, kiosk_client: Any, world: KioskWorld, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "KIOSK_ID_LOOKUPS_PER_MINUTE", 2)
    answers = [_ask(kiosk_client, world, "appointments", UNKNOWN) for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 429]
    assert answers[2].get_json()["code"] == "kiosk_rate_limited"
    assert answers[2].headers["Retry-After"] == "60"
    denied = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "kiosk.id_lookup", AuditEntry.outcome == "denied"
        )
    ).all()
    assert [d.object_id for d in denied] == [str(world.device.id)]
    # Another kiosk is not held back by this one.
    _other, token = create_kiosk(world.hospital, now=utcnow(), name="Kiosk 2")
    db.session.commit()
    other = kiosk_client.post(
        "/api/v1/kiosk/appointments",
        json={"id_number": UNKNOWN},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert other.status_code == 404


def test_a_malformed_number_is_still_told_what_to_fix(kiosk_client: Any, world: KioskWorld) -> None:
    response = _ask(kiosk_client, world, "appointments", "12")
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_identity_number"


def test_an_identity_card_number_with_a_typo_is_told_so(
    kiosk_client: Any, world: KioskWorld
) -> None:
    typo = "11010519491231002" + "0"  # the right check character would be X
    response = _ask(kiosk_client, world, "appointments", typo)
    assert response.status_code == 404  # well formed, but no person has it
    body = response.get_json()
    assert body["code"] == "invalid_identity_number"
    assert body["message"] == "该身份证号码校验不通过，请逐位检查是否输错。"
