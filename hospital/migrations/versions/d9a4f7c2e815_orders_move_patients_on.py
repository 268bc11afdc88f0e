"""orders move patients on: station tickets of paid orders, results returns, phone walk-ins

Revision ID: d9a4f7c2e815
Revises: d2a7c5e8f104
Create Date: 2026-12-04 21:45:00

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "d9a4f7c2e815"
down_revision = "d2a7c5e8f104"
branch_labels = None
depends_on = None

_STATIONS = (
    "consultation_room",
    "registration_desk",
    "cashier",
    "lab_draw",
    "pharmacy",
    "imaging",
)


def upgrade():
    op.create_table(
        "station_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column(
            "station",
            sa.Enum(*_STATIONS, name="servicepointkind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("visit_key", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("refunded_at", hospital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_station_ticket_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["billing_order.id"],
            name=op.f("fk_station_ticket_order_id_billing_order"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_station_ticket_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_ticket")),
        sa.UniqueConstraint("order_id", "station", name=op.f("uq_station_ticket_order_id_station")),
    )
    with op.batch_alter_table("station_ticket", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_ticket_hospital_id"), ["hospital_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_ticket_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "results_return",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("return_queue_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_results_return_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["billing_order.id"],
            name=op.f("fk_results_return_order_id_billing_order"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_account_id"],
            ["account.id"],
            name=op.f("fk_results_return_requested_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["return_queue_id"],
            ["service_queue.id"],
            name=op.f("fk_results_return_return_queue_id_service_queue"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_results_return")),
        sa.UniqueConstraint("order_id", name=op.f("uq_results_return_order_id")),
    )
    with op.batch_alter_table("results_return", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_results_return_hospital_id"), ["hospital_id"], unique=False
        )

    # A same-day number taken from the phone is a walk-in with no kiosk.
    with op.batch_alter_table("kiosk_walk_in", schema=None) as batch_op:
        batch_op.alter_column("device_id", existing_type=sa.Integer(), nullable=True)


def downgrade():
    with op.batch_alter_table("kiosk_walk_in", schema=None) as batch_op:
        batch_op.alter_column("device_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("results_return", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_results_return_hospital_id"))
    op.drop_table("results_return")
    with op.batch_alter_table("station_ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_ticket_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_station_ticket_hospital_id"))
    op.drop_table("station_ticket")
