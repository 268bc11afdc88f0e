"""Guide: triage lexicon edits and floor maps (nodes, edges); patient cards

Revision ID: 7df2f2e9166a
Revises: d5e9a1b7c3f2
Create Date: 2026-12-04 21:32:26

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "7df2f2e9166a"
down_revision = "d5e9a1b7c3f2"
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "map_floor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("building", sa.String(length=50), nullable=False),
        sa.Column("floor", sa.String(length=10), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_map_floor_hospital_id_hospital")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_floor")),
        sa.UniqueConstraint(
            "hospital_id", "building", "floor", name=op.f("uq_map_floor_hospital_id_building_floor")
        ),
    )
    with op.batch_alter_table("map_floor", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_map_floor_hospital_id"), ["hospital_id"], unique=False)

    op.create_table(
        "triage_entry_edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_triage_entry_edit_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["account.id"],
            name=op.f("fk_triage_entry_edit_updated_by_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_entry_edit")),
        sa.UniqueConstraint(
            "hospital_id", "key", name=op.f("uq_triage_entry_edit_hospital_id_key")
        ),
    )
    with op.batch_alter_table("triage_entry_edit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_entry_edit_hospital_id"), ["hospital_id"], unique=False
        )

    op.create_table(
        "map_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("floor_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "corridor",
                "lift",
                "stairs",
                "entrance",
                "point",
                name="mapnodekind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("service_point_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["floor_id"], ["map_floor.id"], name=op.f("fk_map_node_floor_id_map_floor")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_map_node_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_point.id"],
            name=op.f("fk_map_node_service_point_id_service_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_node")),
        sa.UniqueConstraint("hospital_id", "code", name=op.f("uq_map_node_hospital_id_code")),
    )
    with op.batch_alter_table("map_node", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_map_node_floor_id"), ["floor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_map_node_hospital_id"), ["hospital_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_map_node_service_point_id"), ["service_point_id"], unique=False
        )

    op.create_table(
        "map_edge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("from_node_id", sa.Integer(), nullable=False),
        sa.Column("to_node_id", sa.Integer(), nullable=False),
        sa.Column("length_m", sa.Integer(), nullable=False),
        sa.Column("step_free", sa.Boolean(), nullable=False),
        sa.CheckConstraint("length_m > 0", name=op.f("ck_map_edge_length_positive")),
        sa.ForeignKeyConstraint(
            ["from_node_id"], ["map_node.id"], name=op.f("fk_map_edge_from_node_id_map_node")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_map_edge_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["to_node_id"], ["map_node.id"], name=op.f("fk_map_edge_to_node_id_map_node")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_edge")),
        sa.UniqueConstraint(
            "from_node_id", "to_node_id", name=op.f("uq_map_edge_from_node_id_to_node_id")
        ),
    )
    with op.batch_alter_table("map_edge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_map_edge_from_node_id"), ["from_node_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_map_edge_hospital_id"), ["hospital_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_map_edge_to_node_id"), ["to_node_id"], unique=False)
    # Patient cards (hospital/cards): a family prints a long-lived code for an elder.
    op.create_table(
        "patient_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("issued_by_account_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", hospital.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", hospital.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", hospital.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospital.id"], name=op.f("fk_patient_card_hospital_id_hospital")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_account_id"],
            ["account.id"],
            name=op.f("fk_patient_card_issued_by_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_patient_card_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_card")),
        sa.UniqueConstraint("code", name=op.f("uq_patient_card_code")),
    )
    with op.batch_alter_table("patient_card", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_card_hospital_id"), ["hospital_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patient_card_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "uq_patient_card_active",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )


def downgrade():
    with op.batch_alter_table("patient_card", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_patient_card_active",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_patient_card_patient_id"))
        batch_op.drop_index(batch_op.f("ix_patient_card_hospital_id"))

    op.drop_table("patient_card")

    with op.batch_alter_table("map_edge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_map_edge_to_node_id"))
        batch_op.drop_index(batch_op.f("ix_map_edge_hospital_id"))
        batch_op.drop_index(batch_op.f("ix_map_edge_from_node_id"))

    op.drop_table("map_edge")
    with op.batch_alter_table("map_node", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_map_node_service_point_id"))
        batch_op.drop_index(batch_op.f("ix_map_node_hospital_id"))
        batch_op.drop_index(batch_op.f("ix_map_node_floor_id"))

    op.drop_table("map_node")
    with op.batch_alter_table("triage_entry_edit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_entry_edit_hospital_id"))

    op.drop_table("triage_entry_edit")
    with op.batch_alter_table("map_floor", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_map_floor_hospital_id"))

    op.drop_table("map_floor")
