"""The operator creates, lists and revokes FHIR system clients; a revoked token is refused at once."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hospital.audit.models import AuditEntry
from hospital.db import db
from scheduling.fhir.api import create_client_command, list_clients_command, revoke_client_command
from tests.integration.fhir.conftest import BASE, Fhir


def test_create_list_and_revoke_a_client(app: Any, client: Any, world: Fhir) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(
        create_client_command,
        ["--hospital", world.hospital.code, "--name", "Referral hub", "--scope", "system/Slot.rs"],
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    client_id = int(created.output.split("(id ")[1].split(")")[0])
    assert (
        client.get(f"{BASE}/Slot", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )

    listed = runner.invoke(list_clients_command, ["--hospital", world.hospital.code])
    assert listed.exit_code == 0
    row = next(line for line in listed.output.splitlines() if "Referral hub" in line)
    assert row.startswith(f"{client_id}\tactive") and "system/Slot.rs" in row
    assert token not in listed.output  # the token is shown once, at creation

    revoked = runner.invoke(
        revoke_client_command, ["--hospital", world.hospital.code, "--id", str(client_id)]
    )
    assert revoked.exit_code == 0, revoked.output
    refused = client.get(f"{BASE}/Slot", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json["resourceType"] == "OperationOutcome"
    listed = runner.invoke(list_clients_command, ["--hospital", world.hospital.code])
    assert f"{client_id}\trevoked\tReferral hub" in listed.output
    db.session.expire_all()
    assert db.session.scalar(
        sa.select(AuditEntry.id).where(
            AuditEntry.action == "fhir.client_revoked", AuditEntry.object_id == str(client_id)
        )
    )


def test_revoking_an_unknown_client_or_hospital_says_so(app: Any, world: Fhir) -> None:
    runner = app.test_cli_runner()
    unknown = runner.invoke(
        revoke_client_command, ["--hospital", world.hospital.code, "--id", "999999"]
    )
    assert unknown.exit_code != 0 and "no FHIR client with that id" in unknown.output
    nowhere = runner.invoke(list_clients_command, ["--hospital", "NOPE"])
    assert nowhere.exit_code != 0 and "no hospital with the code 'NOPE'" in nowhere.output
