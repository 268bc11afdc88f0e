"""Run the statements signal receivers folded (see hospital.events) inside one of our own."""

from __future__ import annotations

from typing import Any

_Statement = Any  # an INSERT or UPDATE with CTEs (sqlalchemy's generative DML types)


def with_folded(statement: _Statement, folded: list[Any]) -> _Statement:
    """The statement with each folded INSERT/UPDATE as a CTE of its own (PostgreSQL runs every
    data-modifying CTE exactly once, whether or not the statement reads it)."""
    for index, extra in enumerate(folded):
        statement = statement.add_cte(extra.cte(f"folded_{index}"))
    return statement
