"""appointment kept at: the patient's explicit "keep" in keep-or-release

Revision ID: e2a4c6b8d0f1
Revises: c0a5c1e7f3d2
Create Date: 2026-12-05 01:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "e2a4c6b8d0f1"
down_revision = "c0a5c1e7f3d2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kept_at", hospital.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_column("kept_at")
