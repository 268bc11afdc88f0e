"""The hospital's booking rules, its time zone, and who may change schedules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Role
from hospital.audit.service import record
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Forbidden, InvalidInput, NotFound
from hospital.organisation.models import Hospital
from hospital.zones import zone_for
from scheduling.models import DEFAULT_RULES, SchedulingRules

SCHEDULE_ROLES = (Role.ADMIN,)
DESK_ROLES = (Role.REGISTRAR, Role.ADMIN)


@dataclass(frozen=True)
class Rules:
    hold_minutes: int
    max_active_per_patient_per_day: int
    max_active_per_account_per_day: int
    cancel_cutoff_days_before: int
    cancel_cutoff_time: time
    no_show_strikes: int
    no_show_window_days: int
    suspension_days: int
    reschedule_limit: int


def rules_for(hospital_id: int) -> Rules:
    """The hospital's booking rules (the defaults when it has not set its own)."""
    row = db.session.get(SchedulingRules, hospital_id)
    if row is None:
        return Rules(**DEFAULT_RULES)
    return Rules(**{name: getattr(row, name) for name in DEFAULT_RULES})


def set_rules(hospital_id: int, values: dict[str, Any], *, actor: Account, now: datetime) -> Rules:
    """Change some of the hospital's booking rules."""
    _require_roles(hospital_id, SCHEDULE_ROLES, actor=actor)
    row = db.session.get(SchedulingRules, hospital_id)
    if row is None:
        row = SchedulingRules(hospital_id=hospital_id, **DEFAULT_RULES)
        db.session.add(row)
    for name, value in values.items():
        if name not in DEFAULT_RULES:
            raise InvalidInput(
                _l("Unknown rule: %(name)s.", name=name), code=ErrorCode.UNKNOWN_RULE
            )
        setattr(row, name, value)
    db.session.flush()
    record(
        action="scheduling.rules_changed",
        actor=actor,
        object_type="scheduling_rules",
        object_id=str(hospital_id),
        detail={k: str(v) for k, v in values.items()},
    )
    return rules_for(hospital_id)


def hospital_zone(hospital_id: int) -> ZoneInfo:
    """The time zone of the hospital with this id."""
    hospital = db.session.get(Hospital, hospital_id)
    if hospital is None:
        raise NotFound(_l("No such hospital."), code=ErrorCode.HOSPITAL_NOT_FOUND)
    return zone_for(hospital)


def _require_roles(hospital_id: int, roles: Iterable[Role], *, actor: Account) -> None:
    if actor.hospital_id != hospital_id or not actor.has_role(*roles):
        raise Forbidden(
            _l("Your account does not have the role this needs."), code=ErrorCode.ROLE_REQUIRED
        )


def _is_desk_staff(*, actor: Account) -> bool:
    return actor.has_role(*DESK_ROLES)
