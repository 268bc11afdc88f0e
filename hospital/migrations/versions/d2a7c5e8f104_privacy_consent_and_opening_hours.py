"""privacy notice accepted per account; a hospital's opening hours

Revision ID: d2a7c5e8f104
Revises: c4d8e1f2a3b6
Create Date: 2026-12-04 22:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

from hospital.db import UTCDateTime

# revision identifiers, used by Alembic.
revision = "d2a7c5e8f104"
down_revision = "c4d8e1f2a3b6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("privacy_accepted_at", UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("hospital", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opening_hours_zh", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("opening_hours_en", sa.String(length=300), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("hospital", schema=None) as batch_op:
        batch_op.drop_column("opening_hours_en")
        batch_op.drop_column("opening_hours_zh")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("privacy_accepted_at")
