"""Visits: one patient's day, its one code, and the physical stops it replaced

Revision ID: d5e9a1b7c3f2
Revises: 34625c284e62
Create Date: 2026-12-04 21:45:00

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "d5e9a1b7c3f2"
down_revision = "34625c284e62"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hospital.db.UTCDateTime(), nullable=False),
        sa.Column("registration_online", sa.Boolean(), nullable=False),
        sa.Column("paid_online", sa.Boolean(), nullable=False),
        sa.Column("virtual_queue", sa.Boolean(), nullable=False),
        sa.Column("report_online", sa.Boolean(), nullable=False),
        sa.Column("station_numbers", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "station_numbers >= 0", name=op.f("ck_visit_station_numbers_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_visit_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_visit_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_visit_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("code", name=op.f("uq_visit_code")),
        sa.UniqueConstraint(
            "hospital_id",
            "patient_id",
            "service_date",
            name=op.f("uq_visit_hospital_id_patient_id_service_date"),
        ),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_hospital_id"), ["hospital_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_patient_id"), ["patient_id"], unique=False)


def downgrade():
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_patient_id"))
        batch_op.drop_index(batch_op.f("ix_visit_hospital_id"))
    op.drop_table("visit")
