"""sandbox insurance codes: an index on expires_at for the job that forgets expired codes

Revision ID: a8d4c2e6f1b9
Revises: f3b9d2a7c6e1
Create Date: 2026-12-05 04:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "a8d4c2e6f1b9"
down_revision = "f3b9d2a7c6e1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("billing_sandbox_insurance_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_sandbox_insurance_code_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("billing_sandbox_insurance_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_sandbox_insurance_code_expires_at"))
