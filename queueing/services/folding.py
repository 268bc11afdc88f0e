"""Run the statements signal receivers folded (see hospital.events) inside one of our own."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

_Statement = Any  # an INSERT or UPDATE with CTEs (sqlalchemy's generative DML types)

# (sender's statement, folded statements) -> the combined statement, built once per shape and
# kept with the statements it was built from (their ids are its key). The same object on every
# execution: SQLAlchemy keeps its cache key with it instead of walking the whole statement again,
# which took about 0.5-1 ms per call while the queue row was locked.
_combined: dict[tuple[int, ...], tuple[_Statement, tuple[_Statement, ...]]] = {}
_combined_lock = threading.Lock()


def with_folded(
    statement: _Statement,
    folded: list[tuple[_Statement, Mapping[str, Any]]],
    *,
    load: tuple[Any, ...] = (),
) -> tuple[_Statement, dict[str, Any]]:
    """The statement with each folded INSERT/UPDATE as a CTE of its own (PostgreSQL runs every
    data-modifying CTE exactly once, whether or not the statement reads it), and the folded
    statements' parameters to execute it with besides the sender's own.

    With `load` (ORM entities and columns, as the statement's RETURNING gives them), the result
    is a SELECT of them from the statement: the session loads the entities (refreshing those it
    holds) without its per-execution preparation of an ORM UPDATE, which copies the statement
    and walks the copy for its cache key (0.3-0.5 ms a call while the queue row is locked).
    """
    parts = (statement, *(extra for extra, _params in folded))
    key = tuple(id(part) for part in parts)
    found = _combined.get(key)
    if found is None:
        combined = statement
        for index, (extra, _params) in enumerate(folded):
            combined = combined.add_cte(extra.cte(f"folded_{index}"))
        if load:
            combined = (
                sa.select(*load).from_statement(combined).execution_options(populate_existing=True)
            )
        with _combined_lock:
            found = _combined.setdefault(key, (combined, parts))
    params: dict[str, Any] = {}
    for _extra, values in folded:
        for name, value in values.items():
            if name in params and params[name] != value:
                raise ValueError(f"two folded statements bind {name!r} to different values")
            params[name] = value
    return found[0], params
