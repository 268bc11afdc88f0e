"""Persistent ORM objects from rows the hold's hot path read or wrote with Core (no reload)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from hospital.db import db
from scheduling.models import Appointment, AppointmentState, ClinicSession, Slot
from scheduling.services import hold_sql


def row_object(model: type[Any], values: dict[str, Any]) -> Any:
    """A persistent, unchanged ORM object from a row read with Core (the session's if it has one)."""
    existing = db.session.identity_map.get(db.session.identity_key(model, values["id"]))
    if existing is not None:
        return existing
    return persistent(model, values)


def persistent(model: type[Any], values: dict[str, Any]) -> Any:
    """Add a row known from the database as a persistent, unchanged object (nothing to flush).

    The values go straight into the object (no attribute events, as when the ORM loads a row);
    attributes not given are unloaded and read on first access.
    """
    obj = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj


def slot_object(row: Any) -> Slot:
    """The slot (with its session) as ORM objects, built from the fast path's first row."""
    mapping = row._mapping
    session = row_object(
        ClinicSession, {name: mapping[f"cs_{name}"] for name in hold_sql.SESSION_COLUMNS}
    )
    slot = row_object(Slot, {name: mapping[f"slot_{name}"] for name in hold_sql.SLOT_COLUMNS})
    if "session" not in slot.__dict__:
        set_committed_value(slot, "session", session)
    return slot  # type: ignore[no-any-return]


def hold_object(appointment_id: int, slot: Slot, values: dict[str, Any]) -> Appointment:
    """The inserted hold as a persistent ORM object, built from what was written (no reload)."""
    appointment: Appointment = persistent(
        Appointment,
        dict(
            id=appointment_id,
            hospital_id=values["hospital_id"],
            slot_id=values["slot_id"],
            session_id=values["session_id"],
            local_date=values["local_date"],
            patient_id=values["patient_id"],
            account_id=values["account_id"],
            state=AppointmentState.HELD,
            fee_class=values["fee_class_enum"],
            fee_fen=values["fee_fen"],
            hold_expires_at=values["hold_expires_at"],
            is_addon=False,
            addon_reason="",
            reschedule_count=0,
            sequence=0,
            order_id=None,
            created_at=values["created_at"],
            booked_at=None,
            checked_in_at=None,
            completed_at=None,
            cancelled_at=None,
            cancelled_by_account_id=None,
            cancel_reason="",
            expired_at=None,
            no_show_at=None,
        ),
    )
    set_committed_value(appointment, "slot", slot)  # already loaded: no lazy load to answer
    return appointment
