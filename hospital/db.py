"""The database handle, the declarative base and the column types every module shares."""

from __future__ import annotations

import contextvars
import enum
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
