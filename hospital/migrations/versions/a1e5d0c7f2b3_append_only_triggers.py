"""The audit log and the money ledger are append-only in the database itself (hand-written)

On PostgreSQL a statement trigger refuses every UPDATE and DELETE on the two tables, so raw SQL
cannot rewrite history either. SQLite has no such triggers; the ORM guard covers it there.
The statements are idempotent: a database created before this revision (when the initial schema
made the triggers) gets them replaced, not doubled.

Revision ID: a1e5d0c7f2b3
Revises: 3d519a7ceba1
Create Date: 2026-12-04 19:00:00
"""

from alembic import op

import hospital.db

revision = "a1e5d0c7f2b3"
down_revision = "3d519a7ceba1"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("audit_entry", "billing_ledger_entry")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        for statement in hospital.db.append_only_statements(table):
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS refuse_change()")
