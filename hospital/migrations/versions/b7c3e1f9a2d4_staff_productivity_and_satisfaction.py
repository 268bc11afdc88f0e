"""staff productivity and satisfaction surveys

Revision ID: b7c3e1f9a2d4
Revises: e2a4c6b8d0f1
Create Date: 2026-12-05 00:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "b7c3e1f9a2d4"
down_revision = "e2a4c6b8d0f1"
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
    op.create_table(
        "queue_survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("offered_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", hospital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "answered_via",
            sa.Enum("link", "kiosk", name="surveyvia", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("wait_score", sa.Integer(), nullable=True),
        sa.Column("staff_score", sa.Integer(), nullable=True),
        sa.Column("overall_score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "wait_score IS NULL OR (wait_score >= 1 AND wait_score <= 5)",
            name=op.f("ck_queue_survey_wait_score_in_scale"),
        ),
        sa.CheckConstraint(
            "staff_score IS NULL OR (staff_score >= 1 AND staff_score <= 5)",
            name=op.f("ck_queue_survey_staff_score_in_scale"),
        ),
        sa.CheckConstraint(
            "overall_score IS NULL OR (overall_score >= 1 AND overall_score <= 5)",
            name=op.f("ck_queue_survey_overall_score_in_scale"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_queue_survey_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_queue_survey_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_queue_survey_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_queue_survey_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_survey")),
        sa.UniqueConstraint(
            "hospital_id",
            "patient_id",
            "service_date",
            name=op.f("uq_queue_survey_hospital_id_patient_id_service_date"),
        ),
        sa.UniqueConstraint("token", name=op.f("uq_queue_survey_token")),
    )
    with op.batch_alter_table("queue_survey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_queue_survey_hospital_id"), ["hospital_id"])
        batch_op.create_index(batch_op.f("ix_queue_survey_patient_id"), ["patient_id"])
    op.create_table(
        "report_satisfaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("wait_score", sa.Integer(), nullable=False),
        sa.Column("staff_score", sa.Integer(), nullable=False),
        sa.Column("overall_score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("answered_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospital.id"],
            name=op.f("fk_report_satisfaction_hospital_id_hospital"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_satisfaction")),
        sa.UniqueConstraint(
            "hospital_id", "survey_id", name=op.f("uq_report_satisfaction_hospital_id_survey_id")
        ),
    )
    with op.batch_alter_table("report_satisfaction", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_satisfaction_day", ["hospital_id", "service_date"], unique=False
        )


def downgrade():
    with op.batch_alter_table("report_satisfaction", schema=None) as batch_op:
        batch_op.drop_index("ix_report_satisfaction_day")
    op.drop_table("report_satisfaction")
    with op.batch_alter_table("queue_survey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_survey_patient_id"))
        batch_op.drop_index(batch_op.f("ix_queue_survey_hospital_id"))
    op.drop_table("queue_survey")
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
