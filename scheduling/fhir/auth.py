"""Who calls the FHIR facade: a patient's bearer token or a system client's, and its SMART scopes.

Patients get their bearer token from the existing sign-in: `POST /fhir/r4/auth/token` while
signed in opens a fresh server-side session (hospital/accounts/sessions.py) and answers its
token, so sign-out, disabling and expiry revoke it like any session. Such a token acts as
`patient/*.cruds`, limited by the services to the account's own and linked family patients with
the link's rights. System clients hold a token issued by an admin (`hospital fhir create-client`)
with SMART v2 `system/` scopes; they act through a registrar account of their own.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Role
from hospital.accounts.services import staff
from hospital.accounts.sessions import account_for_token
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, InvalidInput, Unauthorized
from hospital.organisation.models import Hospital
from scheduling.fhir.models import FhirClient

PATIENT_SCOPE = "patient/*.cruds"
_SCOPE = re.compile(r"^(system|patient|user)/(\*|[A-Z][A-Za-z]+)\.([cruds]+|read|write|\*)$")
_LEGACY = {"read": "rs", "write": "cud", "*": "cruds"}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str) -> dict[str, set[str]]:
    """Resource type (or "*") -> the SMART v2 interactions (c r u d s) it is granted."""
    granted: dict[str, set[str]] = {}
    for scope in text.split():
        match = _SCOPE.match(scope)
        if match is None:
            raise InvalidInput(
                _l("%(scope)s is not a SMART scope such as system/Slot.rs.", scope=scope),
                code=ErrorCode.INVALID_SCOPE,
            )
        _context, resource, rights = match.groups()
        granted.setdefault(resource, set()).update(_LEGACY.get(rights, rights))
    return granted


@dataclass(frozen=True)
class Principal:
    """The caller of one FHIR request: the account it acts as, and the system client, if any."""

    account: Account
    client: FhirClient | None
    scopes: dict[str, set[str]]

    @property
    def is_patient(self) -> bool:
        return self.client is None

    @property
    def hospital_id(self) -> int:
        return self.account.hospital_id

    def allows(self, resource: str, interaction: str) -> bool:
        return any(interaction in self.scopes.get(name, set()) for name in (resource, "*"))

    def require(self, resource: str, interaction: str) -> None:
        if not self.allows(resource, interaction):
            raise Forbidden(
                _l(
                    "Your token's scopes do not allow this. It needs %(scope)s.",
                    scope=f"system/{resource}.{interaction}",
                ),
                code=ErrorCode.INSUFFICIENT_SCOPE,
            )


def principal_for_token(token: str, *, now: datetime) -> Principal:
    """The caller holding this bearer token, or Unauthorized."""
    client = db.session.scalar(
        sa.select(FhirClient).where(
            FhirClient.token_hash == _digest(token), FhirClient.is_active.is_(True)
        )
    )
    if client is not None:
        account = db.session.get(Account, client.account_id)
        if account is not None and account.is_active:
            client.last_seen_at = now
            return Principal(account=account, client=client, scopes=parse_scopes(client.scopes))
    account = account_for_token(token, now=now)
    if account is not None:
        if account.is_staff:
            raise Forbidden(
                _l("Staff accounts call the FHIR API through a system client token."),
                code=ErrorCode.STAFF_TOKEN_REFUSED,
            )
        return Principal(account=account, client=None, scopes=parse_scopes(PATIENT_SCOPE))
    raise Unauthorized(
        _l("Send a valid bearer token (Authorization: Bearer …)."), code=ErrorCode.TOKEN_REQUIRED
    )


def create_client(
    hospital: Hospital,
    *,
    name: str,
    scopes: str,
    now: datetime,
    actor: Account | None = None,
) -> tuple[FhirClient, str]:
    """Register a system client with SMART scopes; the token is returned only here."""
    granted = parse_scopes(scopes)
    if not granted or any(not s.startswith("system/") for s in scopes.split()):
        raise InvalidInput(
            _l("A system client needs system/ scopes, such as system/Slot.rs."),
            code=ErrorCode.INVALID_SCOPE,
        )
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(
            _l("Give the client a name of 1 to 100 characters."), code=ErrorCode.INVALID_NAME
        )
    token = secrets.token_urlsafe(32)
    account = staff.create_staff(
        hospital,
        username=f"fhir-client-{secrets.token_hex(6)}",
        password=secrets.token_urlsafe(32),  # never told to anyone: the account cannot sign in
        roles=[Role.REGISTRAR],
        display_name=f"FHIR: {name}"[:100],
        now=now,
        actor=actor,
    )
    client = FhirClient(
        hospital_id=hospital.id,
        name=name,
        account_id=account.id,
        scopes=" ".join(scopes.split()),
        token_hash=_digest(token),
        created_at=now,
        created_by_account_id=actor.id if actor is not None else None,
    )
    db.session.add(client)
    db.session.flush()
    record(
        action="fhir.client_created",
        actor=actor,
        hospital_id=hospital.id,
        object_type="fhir_client",
        object_id=str(client.id),
        detail={"name": name, "scopes": client.scopes},
    )
    return client, token


def clients(hospital_id: int) -> list[FhirClient]:
    """The hospital's system clients, oldest first (active and revoked)."""
    return list(
        db.session.scalars(
            sa.select(FhirClient)
            .where(FhirClient.hospital_id == hospital_id)
            .order_by(FhirClient.id)
        )
    )


def revoke_client(
    hospital: Hospital, client_id: int, *, actor: Account | None, now: datetime
) -> FhirClient:
    """Refuse the client's token from now on (its account stays, for the audit trail)."""
    client = db.session.scalar(
        sa.select(FhirClient).where(
            FhirClient.hospital_id == hospital.id, FhirClient.id == client_id
        )
    )
    if client is None:
        raise InvalidInput(
            _l("This hospital has no FHIR client with that id."), code=ErrorCode.NOT_FOUND
        )
    if client.is_active:
        client.is_active = False
        db.session.flush()
        record(
            action="fhir.client_revoked",
            actor=actor,
            hospital_id=hospital.id,
            object_type="fhir_client",
            object_id=str(client.id),
            detail={"name": client.name, "revoked_at": now.isoformat()},
        )
    return client
