"""FHIR SMART Scheduling Links files stored by the publish job

Revision ID: c4d8e1f2a3b6
Revises: b7f3c2a1d9e4
Create Date: 2026-05-01 00:00:00

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "c4d8e1f2a3b6"
down_revision = "b7f3c2a1d9e4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fhir_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("generated_at", hospital.db.UTCDateTime(), nullable=False),
        sa.Column("modified_at", hospital.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_fhir_publication_hospital_id_hospital")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fhir_publication")),
        sa.UniqueConstraint(
            "hospital_id", "kind", name=op.f("uq_fhir_publication_hospital_id_kind")
        ),
    )


def downgrade():
    op.drop_table("fhir_publication")
