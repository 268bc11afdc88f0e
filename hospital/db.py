"""The database handle, the declarative base and the column types every module shares."""

from __future__ import annotations

import contextvars
import enum
import functools
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

    if TYPE_CHECKING:
        # Every model maps one declared table (no mapping to joins or selects), so its
        # __table__ is a Table, not just the FromClause SQLAlchemy types it as.
        __table__: ClassVar[sa.Table]


db = SQLAlchemy(model_class=Base)

# The base class of every table. Flask-SQLAlchemy builds db.Model at run time, which a type
# checker cannot see; to it the declarative base is the same thing.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class UTCDateTime(sa.TypeDecorator):
    """Store an aware datetime as UTC; refuse naive ones so local time never sneaks in."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times as aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # PostgreSQL in UTC: already as wanted
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], **kwargs: Any) -> Mapped[Any]:
    """A column holding an enum's values (not names), guarded by a CHECK constraint."""
    return mapped_column(
        sa.Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            length=max(len(m.value) for m in enum_cls),
            values_callable=lambda e: [m.value for m in e],
            name=enum_cls.__name__.lower(),
            validate_strings=True,
        ),
        **kwargs,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


# SQLite write transactions must start with BEGIN IMMEDIATE: a deferred transaction that
# upgrades to a write lock under contention fails with "database is locked" instead of waiting.
# It is on by default (requests, jobs, CLI commands); pure readers such as event streams turn it
# off for their short read transactions.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


# ---- PostgreSQL: keep the connection's prepared statements across a rollback ------------------
#
# psycopg prepares a statement on the server once it has run five times on a connection, and
# PostgreSQL then reuses its plan: the hold's and the call's statements cost a fraction of a
# millisecond instead of planning a large query each time. But psycopg's rollback() also sends
# DEALLOCATE ALL (a rolled-back transaction might have dropped or re-created what a statement
# refers to), so every refused request (a 409 in a booking rush: most requests) threw away every
# prepared statement of its connection and the next requests planned from scratch again: a
# rush spent three times the database CPU of the same requests with plans kept. Prepared
# statements outlive transactions in PostgreSQL, and our transactions run no DDL, so a rollback
# is sent on the wire as it is, and psycopg's own rollback (with the clean-up) only when the
# transaction ran DDL or the connection is not in a plain open transaction.

_DDL = re.compile(
    r"^\s*(?:CREATE|ALTER|DROP|TRUNCATE|COMMENT|GRANT|REVOKE|DISCARD|DEALLOCATE)\b", re.I
)
_RAN_DDL = "hospital.ran_ddl"


@functools.lru_cache(maxsize=4096)
def _is_ddl(statement: str) -> bool:
    return _DDL.match(statement) is not None


def keep_prepared_statements(engine: Engine) -> None:
    """Roll back psycopg connections without discarding their prepared statements."""
    if engine.dialect.driver != "psycopg":
        return
    from psycopg.pq import ExecStatus, TransactionStatus

    plain_rollback = engine.dialect.do_rollback

    def _note_ddl(conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if _is_ddl(statement):
            conn.info[_RAN_DDL] = True

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            ran_ddl = dbapi_connection.info.pop(_RAN_DDL, False)
        except NotImplementedError:  # the dialect's first connection has no pool record yet
            ran_ddl = True
        raw = getattr(dbapi_connection, "dbapi_connection", None)
        pgconn = getattr(raw, "pgconn", None)
        if ran_ddl or pgconn is None or pgconn.pipeline_status:
            plain_rollback(dbapi_connection)
            return
        status = pgconn.transaction_status
        if status == TransactionStatus.IDLE:
            return  # nothing to end (psycopg does the same)
        if status == TransactionStatus.INTRANS:
            result = pgconn.exec_(b"ROLLBACK")
            if result.status == ExecStatus.COMMAND_OK:
                return
        plain_rollback(dbapi_connection)  # an aborted or broken transaction: psycopg's own way

    event.listen(engine, "before_cursor_execute", _note_ddl)
    engine.dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def execute_dml(
    statement: sa.Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run an INSERT, UPDATE or DELETE in the session and return its cursor result (rowcount)."""
    # Session.execute is typed as returning Result; for DML it returns a CursorResult.
    return cast(CursorResult[Any], db.session.execute(statement, params))


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql
"""


def append_only_statements(table: str) -> list[str]:
    """PostgreSQL DDL that makes a table refuse UPDATE and DELETE (used by models and migrations)."""
    return [
        REFUSE_CHANGE_FUNCTION,
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()",
    ]


def make_append_only(table: sa.Table) -> None:
    """Guard a table in the database itself, not only in the ORM: raw SQL cannot rewrite history."""
    for statement in append_only_statements(table.name):
        ddl = sa.DDL(statement.replace("%", "%%"))  # DDL applies %-formatting
        event.listen(table, "after_create", ddl.execute_if(dialect="postgresql"))
