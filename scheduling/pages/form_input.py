"""Read the scheduling forms: ids, days, times and bounded numbers, each problem noted by field."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from flask import request
from flask_babel import gettext as _

from hospital.accounts.models import Account
from scheduling.models import FeeClass
from scheduling.services import queries


def int_arg(name: str) -> int | None:
    raw = request.values.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def date_arg(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.values.get(name, ""))
    except ValueError:
        return default


def parse_time(raw: str | None, field: str, errors: dict[str, str]) -> time | None:
    try:
        return time.fromisoformat((raw or "").strip())
    except ValueError:
        errors[field] = _("Enter a time as hours:minutes, e.g. 08:00.")
        return None


def parse_date(raw: str | None, field: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        errors[field] = _("Enter a date as year-month-day, e.g. 2026-12-01.")
        return None


def parse_int(raw: str | None, field: str, errors: dict[str, str], low: int, high: int) -> int:
    raw = (raw or "").strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors[field] = _("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
        return low
    return int(raw)


def session_values(account: Account, errors: dict[str, str]) -> dict[str, Any]:
    """Read what a weekly template and an extra session share from the form; note each problem."""
    form = request.form
    clinician = queries.clinician_in(account.hospital_id, int_arg("clinician_id"))
    if clinician is None:
        errors["clinician_id"] = _("Choose a clinician.")
    try:
        fee_class = FeeClass(form.get("fee_class", ""))
    except ValueError:
        errors["fee_class"] = _("Choose one of the options.")
        fee_class = FeeClass.GENERAL
    return {
        "department_id": clinician.department_id if clinician else None,
        "clinician_id": clinician.id if clinician else None,
        "start_time": parse_time(form.get("start_time"), "start_time", errors),
        "end_time": parse_time(form.get("end_time"), "end_time", errors),
        "slot_minutes": parse_int(form.get("slot_minutes"), "slot_minutes", errors, 5, 240),
        "capacity": parse_int(form.get("capacity"), "capacity", errors, 1, 500),
        "fee_class": fee_class,
        "fee_fen": parse_int(form.get("fee_yuan"), "fee_yuan", errors, 0, 100_000) * 100,
    }
