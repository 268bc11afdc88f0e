"""The audit log and the money ledger refuse changes in the database itself, not only in the ORM."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hospital.audit.models import AuditEntry, Outcome
from hospital.audit.service import record
from hospital.db import db


def test_the_orm_refuses_to_edit_an_audit_entry(db_session: Any, hospital: Any) -> None:
    entry = record(action="probe", hospital_id=hospital.id)
    db.session.flush()
    entry.action = "rewritten"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_entry SET action = 'x'", "DELETE FROM audit_entry"]
)
def test_raw_sql_cannot_rewrite_the_audit_log_on_postgresql(
    db_session: Any, hospital: Any, backend: str, statement: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite deployments rely on the ORM guard")
    db.session.add(AuditEntry(action="probe", outcome=Outcome.SUCCESS, hospital_id=hospital.id))
    db.session.flush()
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(sa.text(statement))


def test_raw_sql_cannot_rewrite_the_ledger_on_postgresql(db_session: Any, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite deployments rely on the ORM guard")
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(sa.text("DELETE FROM billing_ledger_entry"))
