"""map floors: a revision, written afresh whenever a hospital's map is replaced

Routes keep a hospital's parsed map in memory under (hospital, revision); maps made before
this revision keep "" and are read from the database every time, as before.

Revision ID: c5e1a7b3d9f2
Revises: a8d4c2e6f1b9
Create Date: 2026-12-05 07:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "c5e1a7b3d9f2"
down_revision = "a8d4c2e6f1b9"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("map_floor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revision", sa.String(length=32), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("map_floor", schema=None) as batch_op:
        batch_op.drop_column("revision")
