"""Fixtures shared by every test.

Integration tests take `app` (or anything built on it) and run twice: on SQLite and on a
throwaway PostgreSQL cluster started here. Each test runs inside a transaction that is rolled
back at the end, so code under test may commit freely (see tests/integration/test_isolation.py).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, current_app
from flask_sqlalchemy.session import _app_ctx_id
from hypothesis import HealthCheck, settings
from sqlalchemy import orm

from hospital.app import create_app
from hospital.db import db
from hospital.web.catalogues import compile_all
from tests.support import factories
from tests.support.auth import fresh_request_globals
from tests.support.postgres_cluster import PostgresCluster, find_pg_bin

REQUIRE_POSTGRES = os.environ.get("HOSPITAL_REQUIRE_POSTGRES") == "1"

# Property tests check correctness, never speed: on a busy 2-core machine an example may take
# seconds, and a deadline would fail the test for the machine's load, not for the code.
settings.register_profile("hospital", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hospital")

TEST_CONFIG: dict[str, Any] = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    "SIGN_IN_RATE_LIMIT": "10000 per minute",
    "SEND_CODE_RATE_LIMIT": "10000 per minute",
    "OTP_RESEND_SECONDS": 0,
    "OTP_SENDS_PER_HOUR": 1000,
    "PUBLIC_URL": "http://hospital.test",
}


def pytest_sessionstart(session: pytest.Session) -> None:
    # Tests run against the current catalogues even when pytest is called directly.
    compile_all()


# ---- guards -------------------------------------------------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host in ("localhost", "::1") or host.startswith("127.")):
            raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


# ---- databases ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    if find_pg_bin() is None:
        message = (
            "PostgreSQL server binaries (initdb/pg_ctl) not found: install Debian's postgresql"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (HOSPITAL_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    cluster = PostgresCluster(max_connections=300)
    cluster.start("hospital_test")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.url("hospital_test")


_fresh = iter(range(1, 10_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """An empty database of its own (for migration and start-up tests)."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "fresh.db")
    cluster = request.getfixturevalue("postgres_cluster")
    name = f"fresh_{next(_fresh)}"
    cluster.create_database(name)
    return cluster.url(name)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "test.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def backend(app: Flask) -> str:
    """ "sqlite" or "postgresql"."""
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def db_session(app: Flask) -> Iterator[orm.scoped_session]:
    """Run the test in an outer transaction that is rolled back; commits become savepoints."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        on_connection = orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint")

        database = app.config["SQLALCHEMY_DATABASE_URI"]

        def new_session() -> orm.Session:
            # `db` is shared by every app in this process: the browser tests' live server (its
            # own app and database) may still be serving a stream thread. Only apps on the test's
            # database (this one, or one a test builds on it) work on the test's connection; two
            # threads of different apps on one connection would interleave savepoints.
            if current_app.config["SQLALCHEMY_DATABASE_URI"] == database:
                return on_connection()
            return original.session_factory()

        db.session = orm.scoped_session(new_session, scopefunc=_app_ctx_id)
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def committed(app: Flask) -> Iterator[None]:
    """For tests with real threads or processes: data is really committed, then every table is emptied."""
    yield
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text(
                        "TRUNCATE "
                        + ", ".join(f'"{t}"' for t in tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                )
            else:
                for t in tables:
                    conn.execute(sa.text(f'DELETE FROM "{t}"'))


@pytest.fixture
def client(app: Flask, db_session: orm.scoped_session) -> Iterator[Any]:
    # Requests reuse the test's app context; start each with a clean `g`, as in production.
    with fresh_request_globals(app):
        yield app.test_client()


# ---- factories ----------------------------------------------------------------------------


@pytest.fixture
def create_hospital(db_session: Any) -> Any:
    return factories.create_hospital


@pytest.fixture
def hospital(create_hospital: Any) -> Any:
    return create_hospital()


@pytest.fixture
def create_department(db_session: Any) -> Any:
    return factories.create_department


@pytest.fixture
def create_clinician(db_session: Any) -> Any:
    return factories.create_clinician


@pytest.fixture
def create_service_point(db_session: Any) -> Any:
    return factories.create_service_point


@pytest.fixture
def create_account(db_session: Any) -> Any:
    return factories.create_account


@pytest.fixture
def create_patient(db_session: Any) -> Any:
    return factories.create_patient
