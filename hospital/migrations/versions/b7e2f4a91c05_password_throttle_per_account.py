"""password throttle per account

Revision ID: b7e2f4a91c05
Revises: 7f3a2c1e9b40
Create Date: 2026-12-04 19:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "b7e2f4a91c05"
down_revision = "7f3a2c1e9b40"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "sign_in_delayed_until", hospital.db.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade():
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("sign_in_delayed_until")
        batch_op.drop_column("failed_sign_ins")
