"""family links need consent: who created a patient record, whether staff confirmed the person

Revision ID: 7f3a2c1e9b40
Revises: a1e5d0c7f2b3
Create Date: 2026-12-01 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import hospital.db

# revision identifiers, used by Alembic.
revision = "7f3a2c1e9b40"
down_revision = "a1e5d0c7f2b3"
branch_labels = None
depends_on = None

_OLD_PURPOSES = "purpose IN ('sign_in', 'kiosk_confirm')"
_NEW_PURPOSES = "purpose IN ('sign_in', 'kiosk_confirm', 'family_link')"


def upgrade():
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "identity_confirmed_at", hospital.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("created_by_account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_patient_created_by_account_id_account"),
            "account",
            ["created_by_account_id"],
            ["id"],
        )

    # A record's first link made by the account itself was made by the family add that created
    # the record (before this revision a family add could not link an existing record).
    op.execute(
        "UPDATE patient SET created_by_account_id = ("
        " SELECT fl.account_id FROM family_link fl"
        " WHERE fl.patient_id = patient.id AND fl.created_by_account_id = fl.account_id"
        " ORDER BY fl.id LIMIT 1)"
    )
    # Records made by staff or seeding count as confirmed; family-made ones wait for the desk.
    op.execute(
        "UPDATE patient SET identity_confirmed_at = created_at WHERE created_by_account_id IS NULL"
    )

    with op.batch_alter_table("one_time_code", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_one_time_code_codepurpose"), type_="check")
        batch_op.create_check_constraint("codepurpose", sa.text(_NEW_PURPOSES))


def downgrade():
    op.execute("DELETE FROM one_time_code WHERE purpose = 'family_link'")
    with op.batch_alter_table("one_time_code", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_one_time_code_codepurpose"), type_="check")
        batch_op.create_check_constraint("codepurpose", sa.text(_OLD_PURPOSES))

    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_patient_created_by_account_id_account"), type_="foreignkey"
        )
        batch_op.drop_column("created_by_account_id")
        batch_op.drop_column("identity_confirmed_at")
