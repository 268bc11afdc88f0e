"""Creating staff accounts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import STAFF_ROLES, Account, AccountRole, Language, Role
from hospital.accounts.passwords import hash_password
from hospital.accounts.services.passwords import check_new_password
from hospital.accounts.services.preferences import DISPLAY_NAME_MAX_LENGTH
from hospital.accounts.services.roles import role_required
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict, InvalidInput, NotFound
from hospital.organisation.models import Hospital

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")


def create_staff(
    hospital: Hospital,
    *,
    username: str,
    password: str,
    roles: Iterable[Role | str],
    display_name: str,
    now: datetime,
    actor: Account | None = None,
) -> Account:
    """Create a staff account with a username, a password and one or more staff roles."""
    if actor is not None and not actor.has_role(Role.ADMIN):
        raise role_required("account.create_staff", "account", 0, Role.ADMIN.value, actor=actor)
    if actor is not None and actor.hospital_id != hospital.id:
        raise NotFound(_l("This hospital was not found."), code=ErrorCode.HOSPITAL_NOT_FOUND)
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise InvalidInput(
            _l(
                "Choose a username of 3 to 64 characters: lower-case letters, digits, "
                "and . _ - (not first)."
            ),
            code=ErrorCode.INVALID_USERNAME,
        )
    try:
        wanted = {Role(r) for r in roles}
    except ValueError:
        raise InvalidInput(
            _l("Unknown role. Choose from: registrar, nurse, clinician, cashier, lab, admin."),
            code=ErrorCode.INVALID_ROLE,
        ) from None
    if not wanted or not wanted <= STAFF_ROLES:
        raise InvalidInput(
            _l("Give at least one staff role: registrar, nurse, clinician, cashier, lab or admin."),
            code=ErrorCode.INVALID_ROLE,
        )
    check_new_password(password or "")
    name = " ".join((display_name or "").split())
    if not name or len(name) > DISPLAY_NAME_MAX_LENGTH:
        raise InvalidInput(
            _l("Give the person's name (at most %(n)s characters).", n=DISPLAY_NAME_MAX_LENGTH),
            code=ErrorCode.INVALID_DISPLAY_NAME,
        )
    taken = db.session.scalar(
        sa.select(Account.id).where(
            Account.hospital_id == hospital.id, Account.username == username
        )
    )
    if taken is not None:
        raise Conflict(
            _l("The username %(username)s is taken. Choose another.", username=username),
            code=ErrorCode.USERNAME_TAKEN,
        )
    account = Account(
        hospital_id=hospital.id,
        username=username,
        display_name=name,
        password_hash=hash_password(password),
        language=Language(current_app.config["DEFAULT_LANGUAGE"]),
        elder_mode=False,
        is_active=True,
        created_at=now,
    )
    account.role_rows = [
        AccountRole(role=r, hospital_id=hospital.id) for r in sorted(wanted, key=lambda r: r.value)
    ]
    db.session.add(account)
    db.session.flush()
    record(
        action="account.create_staff",
        actor=actor,
        hospital_id=hospital.id,
        object_type="account",
        object_id=str(account.id),
        detail={"username": username, "roles": sorted(r.value for r in wanted)},
    )
    return account
