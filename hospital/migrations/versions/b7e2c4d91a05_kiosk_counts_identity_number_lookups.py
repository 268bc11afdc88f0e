"""kiosk counts identity-number lookups (a new kiosk activity kind)

Revision ID: b7e2c4d91a05
Revises: b7e2f4a91c05
Create Date: 2026-12-02 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7e2c4d91a05"
down_revision = "b7e2f4a91c05"
branch_labels = None
depends_on = None

OLD = ("ticket", "code", "print")
NEW = ("ticket", "code", "print", "id_lookup")


def _swap(values, length):
    with op.batch_alter_table("kiosk_activity", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_kiosk_activity_activitykind"), type_="check")
        batch_op.alter_column(
            "kind",
            existing_type=sa.String(length=max(len(v) for v in OLD + values)),
            type_=sa.String(length=length),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_kiosk_activity_activitykind"),
            sa.column("kind").in_(values),
        )


def upgrade():
    _swap(NEW, 9)


def downgrade():
    op.execute("DELETE FROM kiosk_activity WHERE kind = 'id_lookup'")
    _swap(OLD, 6)
