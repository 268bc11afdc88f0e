"""Administration: disabling accounts, creating staff, devices and their tokens, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g

from hospital.accounts.commands import create_device, create_staff, disable_account
from hospital.accounts.guards import current_device, require_device
from hospital.accounts.models import Account, Device, DeviceKind, Role
from hospital.accounts.services import devices, disabling
from hospital.audit.models import AuditEntry
from hospital.db import db, utcnow
from hospital.errors import Forbidden, Unauthorized
from hospital.organisation.lookup import current_hospital
from tests.support.auth import fresh_request_globals, sign_in


@pytest.fixture(autouse=True)
def _fresh_globals(app: Any) -> Iterator[None]:
    with fresh_request_globals(app):
        yield


@pytest.fixture
def hospital(create_hospital: Any, db_session: Any) -> Any:
    created = create_hospital()
    db_session.commit()
    return created


@pytest.fixture
def admin(hospital: Any, create_account: Any) -> Account:
    account = create_account(hospital, roles=(Role.ADMIN,))
    db.session.commit()
    return account


def _denials(action_prefix: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.outcome == "denied", AuditEntry.action.startswith(action_prefix)
            )
        )
    )


# ---- disabling accounts -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PATIENT, Role.NURSE, Role.REGISTRAR])
def test_only_an_admin_may_disable_an_account(
    client: Any, hospital: Any, create_account: Any, role: Role
) -> None:
    actor = create_account(hospital, roles=(role,))
    target = create_account(hospital)
    db.session.commit()
    sign_in(client, actor)

    response = client.post(
        f"/api/v1/auth/accounts/{target.id}/disable", json={"reason": "Because I can"}
    )

    assert response.status_code == 403
    assert response.json["code"] == "role_required"
    db.session.expire_all()
    assert db.session.get(Account, target.id).is_active is True
    denied = _denials("endpoint:")
    assert [(d.actor_account_id, d.hospital_id) for d in denied] == [(actor.id, hospital.id)]


def test_service_refuses_a_non_admin_and_audits_it(hospital: Any, create_account: Any) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    target = create_account(hospital)
    with pytest.raises(Forbidden):
        disabling.disable_account(actor=nurse, account_id=target.id, reason="no", now=utcnow())
    assert target.is_active is True
    assert [d.object_id for d in _denials("account.disable")] == [str(target.id)]


def test_admin_cannot_disable_an_account_of_another_hospital(
    client: Any, admin: Account, create_hospital: Any, create_account: Any
) -> None:
    other = create_account(create_hospital())
    db.session.commit()
    sign_in(client, admin)

    response = client.post(f"/api/v1/auth/accounts/{other.id}/disable", json={"reason": "x"})

    assert response.status_code == 404
    assert response.json["code"] == "account_not_found"


def test_admin_cannot_disable_their_own_account(client: Any, admin: Account) -> None:
    sign_in(client, admin)
    response = client.post(f"/api/v1/auth/accounts/{admin.id}/disable", json={"reason": "x"})
    assert response.status_code == 409
    assert client.get("/api/v1/auth/me").status_code == 200


def test_disabling_is_audited_with_the_reason(
    client: Any, hospital: Any, admin: Account, create_account: Any
) -> None:
    target = create_account(hospital)
    db.session.commit()
    sign_in(client, admin)

    client.post(f"/api/v1/auth/accounts/{target.id}/disable", json={"reason": "Left the area"})

    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "account.disable"))
    assert entry is not None
    assert (entry.actor_account_id, entry.object_id) == (admin.id, str(target.id))
    assert entry.detail["reason"] == "Left the area"


# ---- staff --------------------------------------------------------------------------------


def test_admin_creates_a_staff_account_that_can_sign_in(
    client: Any, app: Any, hospital: Any, admin: Account
) -> None:
    sign_in(client, admin)
    response = client.post(
        "/api/v1/auth/staff",
        json={
            "username": "wang.li",
            "password": "ward three 33",
            "roles": ["nurse", "registrar"],
            "display_name": "王丽",
        },
    )

    assert response.status_code == 201, response.json
    assert response.json["roles"] == ["nurse", "registrar"]
    assert "password_hash" not in response.json
    signed_in = app.test_client().post(
        "/api/v1/auth/password", json={"login": "wang.li", "password": "ward three 33"}
    )
    assert signed_in.status_code == 200


def test_staff_username_must_be_free_and_roles_staff_roles(
    client: Any, hospital: Any, admin: Account, create_account: Any
) -> None:
    create_account(hospital, roles=(Role.NURSE,), username="taken")
    db.session.commit()
    sign_in(client, admin)
    body = {"password": "ward three 33", "display_name": "X"}

    taken = client.post("/api/v1/auth/staff", json={**body, "username": "taken", "roles": ["lab"]})
    patient = client.post(
        "/api/v1/auth/staff", json={**body, "username": "fresh", "roles": ["patient"]}
    )

    assert (taken.status_code, taken.json["code"]) == (409, "username_taken")
    assert (patient.status_code, patient.json["code"]) == (422, "invalid_role")


def test_non_admin_cannot_create_staff(client: Any, hospital: Any, create_account: Any) -> None:
    nurse = create_account(hospital, roles=(Role.NURSE,))
    db.session.commit()
    sign_in(client, nurse)
    response = client.post(
        "/api/v1/auth/staff",
        json={
            "username": "sneaky",
            "password": "ward three 33",
            "roles": ["admin"],
            "display_name": "X",
        },
    )
    assert response.status_code == 403
    assert db.session.scalar(sa.select(Account).where(Account.username == "sneaky")) is None


# ---- devices ------------------------------------------------------------------------------


def _register(admin: Account, kind: str, name: str) -> tuple[Device, str]:
    """A device the admin registers in the hall, committed; with its token."""
    registered = devices.register_device(
        actor=admin, kind=kind, name=name, location="Hall", service_point_id=None, now=utcnow()
    )
    db.session.commit()
    return registered


def _as_device(app: Any, token: str, *kinds: DeviceKind) -> Any:
    """Call a handler guarded by require_device with token; return the device it saw."""
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        g.pop("device", None)
        g.pop("hospital", None)
        return require_device(*kinds)(lambda: (current_device(), current_hospital()))()


def test_admin_registers_a_device_whose_token_works(
    client: Any, app: Any, hospital: Any, admin: Account, create_service_point: Any
) -> None:
    point = create_service_point(hospital)
    db.session.commit()
    sign_in(client, admin)

    response = client.post(
        "/api/v1/auth/devices",
        json={
            "kind": "kiosk",
            "name": "Kiosk 1",
            "location": "Hall A",
            "service_point_id": point.id,
        },
    )

    assert response.status_code == 201, response.json
    token = response.json["token"]
    device_id = response.json["device"]["id"]
    stored = db.session.get(Device, device_id)
    assert stored is not None and token not in stored.token_hash
    device, seen_hospital = _as_device(app, token, DeviceKind.KIOSK)
    assert device.id == device_id and seen_hospital.id == hospital.id
    listed = client.get("/api/v1/auth/devices")
    assert [d["id"] for d in listed.json] == [device_id]
    assert "token" not in str(listed.json) and "token_hash" not in str(listed.json)


def test_device_of_the_wrong_kind_is_refused(app: Any, hospital: Any, admin: Account) -> None:
    _device, token = _register(admin, "display_board", "Board")
    with pytest.raises(Forbidden):
        _as_device(app, token, DeviceKind.KIOSK)


def test_disabled_device_is_refused(client: Any, app: Any, admin: Account) -> None:
    device, token = _register(admin, "kiosk", "Kiosk")
    sign_in(client, admin)

    response = client.post(f"/api/v1/auth/devices/{device.id}/disable", json={})

    assert response.status_code == 200, response.json
    assert response.json["is_active"] is False
    with pytest.raises(Unauthorized):
        _as_device(app, token)


def test_device_token_is_bound_to_its_hospital(
    client: Any,
    app: Any,
    hospital: Any,
    admin: Account,
    create_hospital: Any,
    create_account: Any,
    monkeypatch: Any,
) -> None:
    other = create_hospital()
    other_admin = create_account(other, roles=(Role.ADMIN,))
    device, token = _register(admin, "kiosk", "Kiosk")
    monkeypatch.setitem(app.config, "HOSPITAL_CODE", other.code)

    _device, seen = _as_device(app, token)
    assert seen.id == hospital.id, "the device's hospital, not the configured one"

    sign_in(client, other_admin)
    assert client.get("/api/v1/auth/devices").json == []
    refused = client.post(f"/api/v1/auth/devices/{device.id}/disable", json={})
    assert refused.status_code == 404
    db.session.expire_all()
    assert db.session.get(Device, device.id).is_active is True


def test_service_point_of_another_hospital_is_refused(
    client: Any, admin: Account, create_hospital: Any, create_service_point: Any
) -> None:
    foreign = create_service_point(create_hospital())
    db.session.commit()
    sign_in(client, admin)
    response = client.post(
        "/api/v1/auth/devices",
        json={"kind": "kiosk", "name": "K", "service_point_id": foreign.id},
    )
    assert response.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0


# ---- command line -------------------------------------------------------------------------


def test_cli_creates_staff_disables_accounts_and_registers_devices(
    app: Any, hospital: Any, create_account: Any
) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(
        create_staff,
        [
            "--hospital",
            hospital.code,
            "--username",
            "Zhao",
            "--role",
            "nurse",
            "--role",
            "admin",
            "--name",
            "赵医生",
            "--password",
            "cli password 1",
        ],
    )
    assert created.exit_code == 0, created.output
    staff = db.session.scalar(sa.select(Account).where(Account.username == "zhao"))
    assert staff is not None and staff.roles == {Role.NURSE, Role.ADMIN}

    patient = create_account(hospital)
    db.session.commit()
    disabled = runner.invoke(disable_account, ["--id", str(patient.id), "--reason", "Duplicate"])
    assert disabled.exit_code == 0, disabled.output
    db.session.expire_all()
    assert db.session.get(Account, patient.id).is_active is False

    registered = runner.invoke(
        create_device,
        [
            "--hospital",
            hospital.code,
            "--kind",
            "display_board",
            "--name",
            "Board 1",
            "--location",
            "Hall B",
        ],
    )
    assert registered.exit_code == 0, registered.output
    token = registered.output.strip().splitlines()[-1]
    device, _seen = _as_device(app, token, DeviceKind.DISPLAY_BOARD)
    assert device.name == "Board 1" and device.hospital_id == hospital.id


def test_cli_reports_what_to_fix(app: Any, hospital: Any) -> None:
    runner = app.test_cli_runner()
    unknown = runner.invoke(disable_account, ["--id", "999999", "--reason", "x"])
    weak = runner.invoke(
        create_staff,
        [
            "--hospital",
            hospital.code,
            "--username",
            "abc",
            "--role",
            "lab",
            "--name",
            "A",
            "--password",
            "short",
        ],
    )
    assert unknown.exit_code != 0 and "999999" in unknown.output
    assert weak.exit_code != 0 and "password_too_short" in weak.output
