"""The hold's hot path on PostgreSQL: two prebuilt statements instead of five.

A release rush is thousands of holds at one instant, and each one waited mostly on PostgreSQL
round trips. On PostgreSQL a hold therefore runs as:

1. `READ_AND_LOCK`: the slot with its clinic session, whether lapsed holds sit in it, and, only
   when the slot still has a place (or a lapsed hold to release), the patient with the
   account's family link, locking the patient's and the account's rows (`FOR NO KEY UPDATE`)
   until the commit. Most losers of a rush stop after this statement (the slot is full).
   It also takes the new hold's id from its sequence and reads the hospital's hold time, so
   that the hold's registration order can be written by the next statement.
2. `CHECK_TAKE_INSERT`: with a fresh snapshot taken after the lock (so the limits cannot be
   raced by another hold of the same patient or account), every limit counted (suspension,
   one per session, per patient and per account per day, lapsed holds of the patient in the
   session) against the hospital's rules, and only when all pass, the place taken with the
   conditional `UPDATE` and the hold inserted, in one data-modifying statement. It returns the
   counts and the new hold (or none), so Python learns which rule failed; the refusal's message
   is then produced by the ordinary checks (refusals are rare and may cost more). A paid hold's
   registration order (billing's statements, `check_take_insert_with`) runs in it too, after
   the hold's relation: the slot's row stays locked for this statement and the commit only.

The lock and the counts cannot share one statement: a statement's snapshot is taken before it
waits for a lock, so counts read in the statement that waited would miss the appointment the
lock's previous holder just committed.

The statements are text built once at import (no expression compilation, no ORM unit of work);
SQLite keeps the ordinary path (its write transactions are serial anyway).
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from hospital.db import UTCDateTime
from hospital.sql_fragments import CteFragment
from scheduling.models import DEFAULT_RULES, Appointment, AppointmentState, ClinicSession, Slot

SLOT_COLUMNS = tuple(column.name for column in Slot.__table__.columns)
# What the hold decides on and what its reply shows; the session's other columns stay unloaded
# (read on first access, which neither the hold nor its reply makes).
SESSION_COLUMNS = (
    "id",
    "hospital_id",
    "department_id",
    "clinician_id",
    "status",
    "release_at",
    "fee_class",
    "fee_fen",
)


def _positional(**types: Any) -> list[sa.ColumnClause[Any]]:
    """Result columns in the statement's own order: matched by position, SQLAlchemy keeps the
    result's metadata with the cached statement instead of matching names on every execution."""
    return [sa.column(name, type_) for name, type_ in types.items()]


_slot_select = ", ".join(f"slot.{name} AS slot_{name}" for name in SLOT_COLUMNS)
_session_select = ", ".join(f"cs.{name} AS cs_{name}" for name in SESSION_COLUMNS)
_result_types: dict[str, Any] = {
    **{f"slot_{c.name}": c.type for c in Slot.__table__.columns},
    **{f"cs_{name}": ClinicSession.__table__.c[name].type for name in SESSION_COLUMNS},
}

READ_AND_LOCK = (
    sa.text(
        f"""
        WITH s AS MATERIALIZED (
          SELECT {_slot_select}, {_session_select},
            EXISTS (SELECT 1 FROM appointment AS a WHERE a.slot_id = slot.id
                    AND a.state = 'held' AND a.hold_expires_at <= :now) AS has_lapsed_holds
          FROM slot JOIN clinic_session AS cs ON cs.id = slot.session_id
          WHERE slot.id = :slot_id AND slot.hospital_id = :hospital_id
        ),
        p AS MATERIALIZED (
          SELECT patient.id AS patient_id, patient.hospital_id AS patient_hospital_id,
                 family_link.can_book AS link_can_book
          FROM patient
          JOIN account ON account.id = :account_id
          LEFT JOIN family_link ON family_link.patient_id = patient.id
                                AND family_link.account_id = :account_id
          WHERE patient.id = :patient_id
            AND EXISTS (SELECT 1 FROM s WHERE s.slot_booked < s.slot_capacity
                                           OR s.has_lapsed_holds)
          FOR NO KEY UPDATE OF patient, account
        )
        SELECT s.*, p.patient_id, p.patient_hospital_id, p.link_can_book,
               CASE WHEN p.patient_id IS NOT NULL
                    THEN nextval(pg_get_serial_sequence('appointment', 'id')) END AS new_id,
               (SELECT hold_minutes FROM scheduling_rules
                WHERE scheduling_rules.hospital_id = :hospital_id) AS hold_minutes
        FROM s LEFT JOIN p ON true
        """
    )
    .bindparams(sa.bindparam("now", type_=UTCDateTime()))
    .columns(
        *_positional(
            **_result_types,
            has_lapsed_holds=sa.Boolean(),
            patient_id=sa.Integer(),
            patient_hospital_id=sa.Integer(),
            link_can_book=sa.Boolean(),
            new_id=sa.Integer(),
            hold_minutes=sa.Integer(),
        )
    )
)

# What occupies a place: booked, checked in, or held and not lapsed.
_ACTIVE = "(state IN ('booked', 'checked_in') OR (state = 'held' AND hold_expires_at > :now))"
_NEW_HOLD_COLUMNS = (
    "hospital_id, slot_id, session_id, local_date, patient_id, account_id, state, fee_class, "
    "fee_fen, hold_expires_at, is_addon, addon_reason, reschedule_count, sequence, created_at, "
    "cancel_reason"
)

# The relation of CHECK_TAKE_INSERT that holds the new hold (one row, or none when refused): a
# statement folded into it selects from it, so it writes only when the hold was inserted.
NEW_HOLD = "new_hold"
_CHECK_TAKE_INSERT_CTES = f"""
        c AS MATERIALIZED (
          SELECT
            (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
               AND local_date = :local_date AND {_ACTIVE}) AS n_patient,
            (SELECT count(*) FROM appointment WHERE account_id = :account_id
               AND local_date = :local_date AND {_ACTIVE}) AS n_account,
            (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
               AND session_id = :session_id AND {_ACTIVE}) AS n_session,
            (SELECT count(*) FROM booking_suspension WHERE patient_id = :patient_id
               AND ends_at > :now AND lifted_at IS NULL) AS n_suspended,
            (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
               AND session_id = :session_id AND state = 'held'
               AND hold_expires_at <= :now) AS n_lapsed,
            coalesce(rules.max_active_per_patient_per_day, :default_per_patient) AS max_patient,
            coalesce(rules.max_active_per_account_per_day, :default_per_account) AS max_account
          FROM (SELECT 1 AS one) AS one
          LEFT JOIN scheduling_rules AS rules ON rules.hospital_id = :hospital_id
        ),
        ok AS MATERIALIZED (
          SELECT 1 FROM c
          WHERE (n_suspended = 0 OR :desk) AND n_session = 0 AND n_lapsed = 0
            AND n_patient < max_patient AND (:desk OR n_account < max_account)
        ),
        took AS (
          UPDATE slot SET booked = booked + 1
          WHERE id = :slot_id AND booked < capacity AND EXISTS (SELECT 1 FROM ok)
          RETURNING id
        ),
        {NEW_HOLD} AS (
          INSERT INTO appointment (id, {_NEW_HOLD_COLUMNS})
          SELECT :new_id, :hospital_id, took.id, :session_id, :local_date, :patient_id,
                 :account_id, 'held', :fee_class, :fee_fen, :hold_expires_at,
                 false, '', 0, 0, :now, ''
          FROM took
          RETURNING id
        )"""
_CHECK_TAKE_INSERT_RESULT = f"""
        SELECT c.n_patient, c.n_account, c.n_session, c.n_suspended, c.n_lapsed,
               (SELECT count(*) FROM ok) AS passed, {NEW_HOLD}.id AS new_id
        FROM c LEFT JOIN {NEW_HOLD} ON true
        """


def _check_take_insert(folded: CteFragment | None) -> Any:
    ctes = _CHECK_TAKE_INSERT_CTES + (f", {folded.sql}" if folded is not None else "")
    statement = sa.text(f"WITH {ctes} {_CHECK_TAKE_INSERT_RESULT}").bindparams(
        sa.bindparam("now", type_=UTCDateTime()),
        sa.bindparam("hold_expires_at", type_=UTCDateTime()),
        sa.bindparam("local_date", type_=sa.Date()),
        sa.bindparam("desk", type_=sa.Boolean()),
        sa.bindparam("default_per_patient", value=DEFAULT_RULES["max_active_per_patient_per_day"]),
        sa.bindparam("default_per_account", value=DEFAULT_RULES["max_active_per_account_per_day"]),
        *(folded.binds if folded is not None else ()),
    )
    return statement.columns(
        *_positional(
            n_patient=sa.Integer(),
            n_account=sa.Integer(),
            n_session=sa.Integer(),
            n_suspended=sa.Integer(),
            n_lapsed=sa.Integer(),
            passed=sa.Integer(),
            new_id=sa.Integer(),
        )
    )


CHECK_TAKE_INSERT = _check_take_insert(None)


@functools.cache
def check_take_insert_with(folded: CteFragment) -> Any:
    """CHECK_TAKE_INSERT with another module's statements as CTEs after NEW_HOLD (built once
    per fragment: fragments are kept by their owners)."""
    return _check_take_insert(folded)


# The checked path's statements (SQLite, and the refusals' fallback on PostgreSQL), prebuilt
# too: building them with the expression language on every request costs more CPU than the
# database spends on them.
LIMITS = sa.text(
    f"""
    SELECT
      (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
         AND local_date = :local_date AND id <> :ignore_id AND {_ACTIVE}),
      (SELECT count(*) FROM appointment WHERE account_id = :account_id
         AND local_date = :local_date AND id <> :ignore_id AND {_ACTIVE}),
      (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
         AND session_id = :session_id AND id <> :ignore_id AND {_ACTIVE}),
      (SELECT count(*) FROM booking_suspension WHERE patient_id = :patient_id
         AND ends_at > :now AND lifted_at IS NULL),
      (SELECT count(*) FROM appointment WHERE patient_id = :patient_id
         AND session_id = :session_id AND state = 'held' AND hold_expires_at <= :now),
      rules.max_active_per_patient_per_day,
      rules.max_active_per_account_per_day,
      rules.hold_minutes
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN scheduling_rules AS rules ON rules.hospital_id = :hospital_id
    """
).bindparams(
    sa.bindparam("now", type_=UTCDateTime()),
    sa.bindparam("local_date", type_=sa.Date()),
)
# The slot (with its session) and whether lapsed holds still occupy it, in one round trip.
SLOT_FOR_HOLD = sa.select(
    Slot,
    sa.exists()
    .where(
        Appointment.slot_id == Slot.id,
        Appointment.state == AppointmentState.HELD,
        Appointment.hold_expires_at <= sa.bindparam("now", type_=UTCDateTime()),
    )
    .label("has_lapsed_holds"),
).where(Slot.id == sa.bindparam("slot_id", type_=sa.Integer()))


# A hold's new row: every column a person reads back, so the returned object needs no reload.
_NEW_HOLD_VALUES = (
    ":hospital_id, :slot_id, :session_id, :local_date, :patient_id, :account_id, :state, "
    ":fee_class, :fee_fen, :hold_expires_at, false, '', 0, 0, :created_at, ''"
)
_HOLD_BIND_TYPES = (
    sa.bindparam("local_date", type_=sa.Date()),
    sa.bindparam("hold_expires_at", type_=UTCDateTime()),
    sa.bindparam("created_at", type_=UTCDateTime()),
)
# PostgreSQL: take the place and insert the hold in one statement; no row means the slot is full.
TAKE_PLACE_AND_INSERT_HOLD = sa.text(
    f"""
    WITH took AS (
      UPDATE slot SET booked = booked + 1 WHERE id = :slot_id AND booked < capacity RETURNING id
    )
    INSERT INTO appointment ({_NEW_HOLD_COLUMNS})
    SELECT {_NEW_HOLD_VALUES.replace(":slot_id", "took.id")} FROM took
    RETURNING id
    """
).bindparams(*_HOLD_BIND_TYPES)
# SQLite (no data-modifying CTE; its write transactions are serial): the insert after the take.
INSERT_HOLD = sa.text(
    f"INSERT INTO appointment ({_NEW_HOLD_COLUMNS}) VALUES ({_NEW_HOLD_VALUES}) RETURNING id"
).bindparams(*_HOLD_BIND_TYPES)
