"""Queue wait estimates and their calibration, pause reasons, the wait accuracy summary

Revision ID: 34625c284e62
Revises: d9a4f7c2e815
Create Date: 2026-12-04 21:30:33.437010

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "34625c284e62"
down_revision = "d9a4f7c2e815"
branch_labels = None
depends_on = None


_OLD_ACTIONS = (
    "action IN ('issued', 'called', 'recalled', 'started', 'completed', 'missed', 'no_show',"
    " 'transferred', 'lease_expired', 'cancelled')"
)
_NEW_ACTIONS = (
    "action IN ('issued', 'called', 'recalled', 'started', 'completed', 'missed', 'no_show',"
    " 'transferred', 'lease_expired', 'cancelled', 'undone')"
)


def upgrade():
    op.create_table(
        "queue_counter_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("counter_id", sa.Integer(), nullable=False),
        sa.Column("service_point_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counter_id"],
            ["queue_counter.id"],
            name=op.f("fk_queue_counter_queue_counter_id_queue_counter"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospital.id"],
            name=op.f("fk_queue_counter_queue_hospital_id_hospital"),
        ),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_point.id"],
            name=op.f("fk_queue_counter_queue_service_point_id_service_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_counter_queue")),
        sa.UniqueConstraint(
            "counter_id",
            "service_point_id",
            name=op.f("uq_queue_counter_queue_counter_id_service_point_id"),
        ),
    )
    with op.batch_alter_table("queue_counter_queue", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_counter_queue_counter_id"), ["counter_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_queue_counter_queue_hospital_id"), ["hospital_id"], unique=False
        )
    with op.batch_alter_table("queue_counter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "call_rule",
                sa.Enum(
                    "longest_wait",
                    "priority_order",
                    name="callrule",
                    native_enum=False,
                    create_constraint=True,
                ),
                nullable=False,
                server_default="longest_wait",
            )
        )
    op.create_table(
        "queue_alert_thresholds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("service_point_id", sa.Integer(), nullable=False),
        sa.Column("booked_wait_minutes", sa.Integer(), nullable=False),
        sa.Column("longest_wait_minutes", sa.Integer(), nullable=False),
        sa.Column("pause_overrun_minutes", sa.Integer(), nullable=False),
        sa.Column("calls_without_coming", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "booked_wait_minutes > 0",
            name=op.f("ck_queue_alert_thresholds_booked_wait_positive"),
        ),
        sa.CheckConstraint(
            "calls_without_coming >= 2",
            name=op.f("ck_queue_alert_thresholds_calls_at_least_two"),
        ),
        sa.CheckConstraint(
            "longest_wait_minutes > 0",
            name=op.f("ck_queue_alert_thresholds_longest_wait_positive"),
        ),
        sa.CheckConstraint(
            "pause_overrun_minutes >= 0",
            name=op.f("ck_queue_alert_thresholds_pause_overrun_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospital.id"],
            name=op.f("fk_queue_alert_thresholds_hospital_id_hospital"),
        ),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_point.id"],
            name=op.f("fk_queue_alert_thresholds_service_point_id_service_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_alert_thresholds")),
        sa.UniqueConstraint(
            "service_point_id", name=op.f("uq_queue_alert_thresholds_service_point_id")
        ),
    )
    with op.batch_alter_table("queue_alert_thresholds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_alert_thresholds_hospital_id"), ["hospital_id"], unique=False
        )
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undo_state", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("undone_at", hospital.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(batch_op.f("ck_ticket_event_ticketaction"), type_="check")
        batch_op.create_check_constraint("ticketaction", sa.text(_NEW_ACTIONS))

    op.create_table(
        "report_wait_accuracy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("service_point_id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Integer(), nullable=False),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.Column("abs_error_seconds", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospital.id"],
            name=op.f("fk_report_wait_accuracy_hospital_id_hospital"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_wait_accuracy")),
        sa.UniqueConstraint(
            "hospital_id",
            "service_point_id",
            "service_date",
            "hour",
            name=op.f("uq_report_wait_accuracy_hospital_id_service_point_id_service_date_hour"),
        ),
    )
    op.create_table(
        "queue_wait_estimate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("service_point_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("shown_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ahead", sa.Integer(), nullable=False),
        sa.Column("expected_seconds", sa.Integer(), nullable=False),
        sa.Column("low_minutes", sa.Integer(), nullable=False),
        sa.Column("high_minutes", sa.Integer(), nullable=False),
        sa.Column("judged", sa.Boolean(), nullable=False),
        sa.Column("judged_at", hospital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("actual_seconds", sa.Integer(), nullable=True),
        sa.Column("inside", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"],
            ["hospital.id"],
            name=op.f("fk_queue_wait_estimate_hospital_id_hospital"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["service_queue.id"],
            name=op.f("fk_queue_wait_estimate_queue_id_service_queue"),
        ),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_point.id"],
            name=op.f("fk_queue_wait_estimate_service_point_id_service_point"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_queue_wait_estimate_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_wait_estimate")),
    )
    with op.batch_alter_table("queue_wait_estimate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_wait_estimate_hospital_id"), ["hospital_id"], unique=False
        )
        batch_op.create_index(
            "ix_queue_wait_estimate_point_judged_at",
            ["service_point_id", "judged_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_queue_wait_estimate_queue_judged", ["queue_id", "judged"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_queue_wait_estimate_ticket_id"), ["ticket_id"], unique=False
        )

    with op.batch_alter_table("queue_counter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pause_reason", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("paused_until", hospital.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("service_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eta_low_factor", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("eta_high_factor", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("eta_samples", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("queue_counter", schema=None) as batch_op:
        batch_op.drop_column("call_rule")
    with op.batch_alter_table("queue_counter_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_counter_queue_hospital_id"))
        batch_op.drop_index(batch_op.f("ix_queue_counter_queue_counter_id"))
    op.drop_table("queue_counter_queue")
    with op.batch_alter_table("queue_alert_thresholds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_alert_thresholds_hospital_id"))
    op.drop_table("queue_alert_thresholds")
    op.execute("DELETE FROM ticket_event WHERE action = 'undone'")
    with op.batch_alter_table("ticket_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_ticket_event_ticketaction"), type_="check")
        batch_op.create_check_constraint("ticketaction", sa.text(_OLD_ACTIONS))
        batch_op.drop_column("undone_at")
        batch_op.drop_column("undo_state")

    with op.batch_alter_table("service_queue", schema=None) as batch_op:
        batch_op.drop_column("eta_samples")
        batch_op.drop_column("eta_high_factor")
        batch_op.drop_column("eta_low_factor")

    with op.batch_alter_table("queue_counter", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
        batch_op.drop_column("pause_reason")

    with op.batch_alter_table("queue_wait_estimate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_wait_estimate_ticket_id"))
        batch_op.drop_index("ix_queue_wait_estimate_queue_judged")
        batch_op.drop_index("ix_queue_wait_estimate_point_judged_at")
        batch_op.drop_index(batch_op.f("ix_queue_wait_estimate_hospital_id"))

    op.drop_table("queue_wait_estimate")
    op.drop_table("report_wait_accuracy")
