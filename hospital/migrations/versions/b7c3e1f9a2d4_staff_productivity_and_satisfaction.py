"""staff productivity and satisfaction surveys

Revision ID: b7c3e1f9a2d4
Revises: d5e9a7b3c1f0
Create Date: 2026-12-05 00:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "b7c3e1f9a2d4"
down_revision = "d5e9a7b3c1f0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("report_visit_summary", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_point_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("counter_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("counter_code", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("counter_point_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("staff_account_id", sa.Integer(), nullable=True))
    op.create_table(
        "report_counter_pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("counter_code", sa.String(length=16), nullable=False),
        sa.Column("counter_point_id", sa.Integer(), nullable=False),
        sa.Column("staff_account_id", sa.Integer(), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("paused_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resumed_at", hospital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospital.id"],
            name=op.f("fk_report_counter_pause_hospital_id_hospital"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_counter_pause")),
    )
    with op.batch_alter_table("report_counter_pause", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_counter_pause_day", ["hospital_id", "service_date"], unique=False
        )
        batch_op.create_index(
            "ix_report_counter_pause_open", ["counter_id", "resumed_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("report_counter_pause", schema=None) as batch_op:
        batch_op.drop_index("ix_report_counter_pause_open")
        batch_op.drop_index("ix_report_counter_pause_day")
    op.drop_table("report_counter_pause")
    with op.batch_alter_table("report_visit_summary", schema=None) as batch_op:
        batch_op.drop_column("staff_account_id")
        batch_op.drop_column("counter_point_id")
        batch_op.drop_column("counter_code")
        batch_op.drop_column("counter_id")
        batch_op.drop_column("service_point_id")
