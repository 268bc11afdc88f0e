"""A rollback undoes the transaction and, on PostgreSQL, keeps the connection's prepared statements.

psycopg's own rollback sends DEALLOCATE ALL; hospital.db.keep_prepared_statements sends the
ROLLBACK alone unless the transaction ran DDL, so a refused request (most requests in a booking
rush) no longer makes the next requests on its connection plan their statements again.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from hospital.db import db
from hospital.organisation.models import Hospital

PREPARED = sa.text("SELECT count(*) FROM pg_prepared_statements")


def prepare_some(conn: sa.Connection) -> int:
    """Run a statement often enough that psycopg prepares it; how many the server holds."""
    for value in range(6):
        conn.execute(sa.text("SELECT 1 + :x"), {"x": value})
    return int(conn.execute(PREPARED).scalar_one())


@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend == "sqlite":
        pytest.skip(
            "prepared statements are a PostgreSQL (psycopg) matter; the SQLite driver has none"
        )


def test_a_rollback_still_undoes_what_the_transaction_wrote(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(
            sa.insert(Hospital).values(
                code="ROLLBACK-1", name_zh="回滚", name_en="Rolled back", timezone="Asia/Shanghai"
            )
        )
        assert conn.execute(sa.select(Hospital.id).where(Hospital.code == "ROLLBACK-1")).first()
        conn.rollback()
        assert (
            conn.execute(sa.select(Hospital.id).where(Hospital.code == "ROLLBACK-1")).first()
            is None
        )


def test_a_rollback_keeps_the_prepared_statements(app: Flask, postgres_only: None) -> None:
    with app.app_context(), db.engine.connect() as conn:
        held = prepare_some(conn)
        assert held >= 1
        conn.rollback()
        assert conn.execute(PREPARED).scalar_one() >= held
        # and they still run: the server and psycopg agree on what is prepared
        assert conn.execute(sa.text("SELECT 1 + :x"), {"x": 41}).scalar_one() == 42


def test_a_connection_returned_to_the_pool_inside_a_transaction_keeps_them(
    app: Flask, postgres_only: None
) -> None:
    with app.app_context():
        engine = sa.create_engine(db.engine.url, pool_size=1, max_overflow=0)
        from hospital.db import keep_prepared_statements

        keep_prepared_statements(engine)
        try:
            with engine.connect() as conn:
                held = prepare_some(conn)  # left open: the pool rolls it back on return
            with engine.connect() as conn:
                assert conn.execute(PREPARED).scalar_one() >= held
        finally:
            engine.dispose()


def test_a_transaction_that_ran_ddl_is_rolled_back_the_careful_way(
    app: Flask, postgres_only: None
) -> None:
    with app.app_context(), db.engine.connect() as conn:
        assert prepare_some(conn) >= 1
        conn.execute(sa.text("CREATE TEMPORARY TABLE gone_soon (id integer)"))
        conn.rollback()
        # psycopg forgot its statements and told the server so: nothing refers to gone_soon
        assert conn.execute(PREPARED).scalar_one() == 0
        assert conn.execute(sa.text("SELECT to_regclass('gone_soon')")).scalar_one() is None


def test_a_failed_transaction_rolls_back_and_the_connection_goes_on(
    app: Flask, postgres_only: None
) -> None:
    with app.app_context(), db.engine.connect() as conn:
        prepare_some(conn)
        with pytest.raises(sa.exc.DBAPIError):
            conn.execute(sa.text("SELECT 1 / 0"))
        conn.rollback()
        assert conn.execute(sa.text("SELECT 1 + :x"), {"x": 1}).scalar_one() == 2
