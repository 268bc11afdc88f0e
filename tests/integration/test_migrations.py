"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy.exc import DBAPIError

from hospital.app import create_app
from hospital.db import db
from tests.conftest import TEST_CONFIG


def test_migrations_match_the_models(fresh_database_url: str) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": fresh_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff: list[Any] = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert diff == [], f"models and migrations disagree; run `hospital db migrate`: {diff}"


def test_readyz_reports_migrations_at_head(fresh_database_url: str) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": fresh_database_url})
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    with app.app_context():
        upgrade()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json["migrations"] == "head"
    with app.app_context():
        db.engine.dispose()


def test_migrated_postgresql_refuses_to_rewrite_the_audit_log(fresh_database_url: str) -> None:
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("the append-only trigger is PostgreSQL's")
    app = create_app({**TEST_CONFIG, "DATABASE_URL": fresh_database_url})
    with app.app_context():
        upgrade()
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM audit_entry"))
        db.engine.dispose()
