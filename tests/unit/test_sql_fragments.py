"""Core statements compiled into named CTEs for another module's text statement."""

from __future__ import annotations

import sqlalchemy as sa

from hospital.sql_fragments import CteFragment, cte_fragment

_metadata = sa.MetaData()
_note = sa.Table(
    "note",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer),
    sa.Column("kind", sa.String),
    sa.Column("detail", sa.JSON),
    sa.Column("read", sa.Boolean, default=False),
)
_copy = sa.Table("note_copy", _metadata, sa.Column("note_id", sa.Integer))


def _fragment() -> CteFragment:
    insert = (
        sa.insert(_note)
        .from_select(
            ["owner_id", "kind", "detail"],
            sa.select(
                sa.bindparam("owner_id", type_=sa.Integer),
                sa.literal("reminder", sa.String),
                sa.bindparam("detail", type_=_note.c.detail.type),
            ).where(sa.exists(sa.select(sa.literal_column("1")).select_from(sa.table("gate")))),
        )
        .returning(_note.c.id)
    )
    new_note = sa.table("new_note", sa.column("id"))
    copy = sa.insert(_copy).from_select(
        ["note_id"], sa.select(new_note.c.id).where(sa.bindparam("owner_id") > 0)
    )
    return cte_fragment("n_", [("new_note", insert), ("new_copy", copy)])


def test_each_statement_becomes_a_named_cte_with_its_binds_renamed() -> None:
    fragment = _fragment()
    assert fragment.sql.startswith("new_note AS (INSERT INTO note ")
    assert "new_copy AS (INSERT INTO note_copy " in fragment.sql
    assert "FROM new_note" in fragment.sql and "FROM gate" in fragment.sql
    names = {bind.key for bind in fragment.binds}
    assert {"n_0_owner_id", "n_0_detail", "n_1_owner_id"} <= names
    assert ":owner_id" not in fragment.sql


def test_a_cast_after_a_bind_is_spelled_so_that_a_text_statement_reads_the_bind() -> None:
    fragment = _fragment()
    assert "::" not in fragment.sql
    assert "CAST(:n_0_detail AS JSON)" in fragment.sql


def test_literals_and_python_side_defaults_come_with_it_and_values_reach_every_statement() -> None:
    fragment = _fragment()
    params = fragment.params({"owner_id": 7, "detail": {"a": 1}, "unused": 3})
    assert params["n_0_owner_id"] == params["n_1_owner_id"] == 7
    assert params["n_0_detail"] == {"a": 1}
    assert params["n_0_read"] is False  # the column's default, which Core fills in Python
    assert "reminder" in params.values()
    assert not any(key.endswith("unused") for key in params)
