"""Statements one module runs inside another module's PostgreSQL text statement.

A hot path written as SQL text (scheduling's hold) may run another module's INSERTs as
data-modifying CTEs of its own statement: one round trip instead of two while it holds a row
lock. The other module keeps its statements in SQLAlchemy Core and hands them over compiled to
text once (`cte_fragment`), with their bind parameters renamed so that they cannot meet the host
statement's own, typed, and with the values the statements fixed themselves (literals) kept.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGDialect

# Compiled as text: `:name` placeholders, no driver-specific casts.
_TEXT_DIALECT = PGDialect(paramstyle="named")
# A bind, and the cast the dialect may append to it (`:detail::JSON`): text statements read
# `::` after a name as part of it, so the cast is spelled CAST(… AS …) instead.
_BIND = re.compile(r"(?<![:\w]):(\w+)(?:::(\w+))?")


@dataclass(frozen=True, eq=False)
class CteFragment:
    """Named data-modifying CTEs as SQL text ("name AS (…), name AS (…)").

    Built once and kept (its identity is the host's cache key); `params` turns the values the
    statements' own bind names take into the fragment's renamed parameters.
    """

    sql: str
    binds: tuple[sa.BindParameter[Any], ...]
    constants: Mapping[str, Any]
    prefixes: tuple[str, ...]

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        names = {bind.key for bind in self.binds}
        renamed = {
            prefix + key: value
            for prefix in self.prefixes
            for key, value in values.items()
            if prefix + key in names
        }
        return {**self.constants, **renamed}


def _renamed(match: re.Match[str], *, own: str) -> str:
    name, cast = match.group(1), match.group(2)
    return f"CAST(:{own}{name} AS {cast})" if cast else f":{own}{name}"


def cte_fragment(prefix: str, statements: Sequence[tuple[str, Any]]) -> CteFragment:
    """Compile (name, INSERT/UPDATE … RETURNING) pairs into one fragment of named CTEs.

    A statement reads an earlier one by its name as a plain table (`sa.table(name, …)`). Each
    statement's parameters are renamed `<prefix><index>_<name>`.
    """
    parts: list[str] = []
    binds: dict[str, sa.BindParameter[Any]] = {}
    constants: dict[str, Any] = {}
    prefixes: list[str] = []
    for index, (name, statement) in enumerate(statements):
        own = f"{prefix}{index}_"
        prefixes.append(own)
        compiled = statement.compile(dialect=_TEXT_DIALECT)
        sql = _BIND.sub(functools.partial(_renamed, own=own), str(compiled))
        parts.append(f"{name} AS ({sql})")
        for bind, bind_name in compiled.bind_names.items():
            key = own + bind_name
            binds[key] = sa.bindparam(key, type_=bind.type)
            if bind.effective_value is not None:  # a literal the statement fixed itself
                constants[key] = bind.effective_value
        # Columns an INSERT fills from their Python-side defaults (Core adds them as binds).
        for column in compiled.insert_prefetch:
            default = column.default
            if default is None or not default.is_scalar:
                raise ValueError(f"{column}: only scalar defaults can be compiled into text")
            constants[own + column.key] = default.arg
    return CteFragment(
        sql=", ".join(parts),
        binds=tuple(binds.values()),
        constants=constants,
        prefixes=tuple(prefixes),
    )
