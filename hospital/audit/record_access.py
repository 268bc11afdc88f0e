"""Who opened my records: staff access to a patient's data, read back from the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, Role
from hospital.audit.models import AuditEntry, Outcome
from hospital.db import db
from hospital.organisation.models import Clinician, Department, Hospital
from hospital.patients.access import Permission, patients_acting_for
from hospital.patients.models import Patient
from hospital.zones import zone_for

PER_PAGE = 20
MAX_PER_PAGE = 100

ROLE_LABELS: dict[str, Any] = {
    Role.REGISTRAR.value: _l("Registration desk"),
    Role.NURSE.value: _l("Nurse"),
    Role.CLINICIAN.value: _l("Doctor"),
    Role.CASHIER.value: _l("Cashier"),
    Role.LAB.value: _l("Laboratory"),
    Role.ADMIN.value: _l("Administrator"),
}

# What was opened, by audit action; the first matching prefix names an action not listed.
WHAT_LABELS: dict[str, Any] = {
    "appointment.read": _l("Opened an appointment"),
    "appointment.day_list.read": _l("Saw you on a doctor's day list"),
    "order.read": _l("Opened an order"),
    "order.receipt.read": _l("Opened a receipt"),
    "order.cashier_list.read": _l("Saw an order on the cashier's list"),
    "report.read": _l("Opened a lab or exam report"),
    "report.download": _l("Downloaded a lab or exam report"),
    "report.search": _l("Looked up your reports"),
    "scheduling.add_on": _l("Added an appointment for you"),
    "scheduling.appointment_cancelled_by_staff": _l("Cancelled an appointment"),
    "scheduling.suspension_lifted": _l("Lifted a booking suspension"),
    "consult.read": _l("Opened your online consultation"),
    "consult.inbox.read": _l("Saw your question in a doctor's inbox of online questions"),
    "consult.case.read": _l("Read your recent visits and reports beside your online question"),
    "consult.replied": _l("Answered your online question"),
    "consult.declined": _l("Declined your online question"),
}
PREFIX_LABELS: list[tuple[str, Any]] = [
    ("appointment.", _l("Opened your appointments")),
    ("scheduling.", _l("Changed your appointments")),
    ("order.", _l("Opened your orders")),
    ("billing.", _l("Opened your orders")),
    ("report", _l("Opened your reports")),
    ("queue", _l("Saw you in a waiting queue")),
    ("desk.", _l("Looked you up at the registration desk")),
    ("patient", _l("Opened your patient record")),
    ("consult.", _l("Opened your online consultations")),
]
OTHER_LABEL = _l("Opened your records")


def what_was_opened(action: str) -> Any:
    """The action in plain words for the patient (a lazy string, in the reader's language)."""
    if action in WHAT_LABELS:
        return WHAT_LABELS[action]
    for prefix, label in PREFIX_LABELS:
        if action.startswith(prefix):
            return label
    return OTHER_LABEL


@dataclass(frozen=True)
class RecordAccess:
    at: datetime  # UTC
    local_time: datetime  # in the hospital's time zone
    patient_id: int
    patient_name: str
    roles: list[str]
    role_labels: list[Any]
    department_zh: str | None
    department_en: str | None
    action: str
    what: Any


@dataclass(frozen=True)
class RecordAccessPage:
    items: list[RecordAccess]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _staff_departments(account_ids: set[int]) -> dict[int, Department]:
    if not account_ids:
        return {}
    rows = db.session.execute(
        sa.select(Clinician.account_id, Department)
        .join(Department, Department.id == Clinician.department_id)
        .where(Clinician.account_id.in_(account_ids))
    ).all()
    return {account_id: department for account_id, department in rows}


def staff_accesses(
    account: Account, *, page: int = 1, per_page: int = PER_PAGE
) -> RecordAccessPage:
    """Every staff access to the data of the account's own profile and the family it may view.

    Newest first. Only entries with a staff actor that succeeded are shown; the staff member is
    named by role and department, never by account.
    """
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    patients: dict[int, Patient] = {p.id: p for p in patients_acting_for(account, Permission.VIEW)}
    if not patients:
        return RecordAccessPage(items=[], page=page, per_page=per_page, total=0)
    where = (
        AuditEntry.hospital_id == account.hospital_id,
        AuditEntry.patient_id.in_(patients),
        AuditEntry.outcome == Outcome.SUCCESS,
        AuditEntry.actor_account_id.is_not(None),
        AuditEntry.actor_account_id != account.id,
        AuditEntry.actor_role.not_in(("", Role.PATIENT.value)),
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*where))
    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(*where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    hospital = db.session.get(Hospital, account.hospital_id)
    assert hospital is not None, "an account names an existing hospital"
    zone = zone_for(hospital)
    departments = _staff_departments({e.actor_account_id for e in entries if e.actor_account_id})
    items = []
    for entry in entries:
        roles = [r for r in entry.actor_role.split(",") if r in ROLE_LABELS]
        department = departments.get(entry.actor_account_id or 0)
        assert entry.patient_id is not None
        items.append(
            RecordAccess(
                at=entry.at,
                local_time=entry.at.astimezone(zone),
                patient_id=entry.patient_id,
                patient_name=patients[entry.patient_id].name,
                roles=roles,
                role_labels=[ROLE_LABELS[r] for r in roles],
                department_zh=department.name_zh if department else None,
                department_en=department.name_en if department else None,
                action=entry.action,
                what=what_was_opened(entry.action),
            )
        )
    return RecordAccessPage(items=items, page=page, per_page=per_page, total=total or 0)
