"""FHIR system clients with SMART scopes

Revision ID: b7f3c2a1d9e4
Revises: b7e2c4d91a05
Create Date: 2026-12-01 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "b7f3c2a1d9e4"
down_revision = "b7e2c4d91a05"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fhir_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hospital.db.UTCDateTime(), nullable=False),
        sa.Column("created_by_account_id", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", hospital.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_fhir_client_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_account_id"],
            ["account.id"],
            name=op.f("fk_fhir_client_created_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_fhir_client_hospital_id_hospital")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_client")),
        sa.UniqueConstraint("account_id", name=op.f("uq_fhir_client_account_id")),
        sa.UniqueConstraint("hospital_id", "name", name=op.f("uq_fhir_client_hospital_id_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_fhir_client_token_hash")),
    )
    with op.batch_alter_table("fhir_client", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fhir_client_hospital_id"), ["hospital_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("fhir_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_client_hospital_id"))
    op.drop_table("fhir_client")
