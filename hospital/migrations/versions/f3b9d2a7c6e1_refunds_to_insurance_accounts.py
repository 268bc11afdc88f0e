"""refunds to insurance accounts: a refund returns money to a payment or an account charge

Revision ID: f3b9d2a7c6e1
Revises: b7c3e1f9a2d4
Create Date: 2026-12-05 02:05:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f3b9d2a7c6e1"
down_revision = "b7c3e1f9a2d4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("billing_refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_charge_id", sa.Integer(), nullable=True))
        batch_op.alter_column("payment_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_billing_refund_account_charge_id"), ["account_charge_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_billing_refund_account_charge_id_billing_account_charge"),
            "billing_account_charge",
            ["account_charge_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_billing_refund_one_source"),
            "(payment_id IS NULL) <> (account_charge_id IS NULL)",
        )


def downgrade():
    with op.batch_alter_table("billing_refund", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_billing_refund_one_source"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_billing_refund_account_charge_id_billing_account_charge"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_billing_refund_account_charge_id"))
        batch_op.alter_column("payment_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("account_charge_id")
