"""The medical-insurance code (医保电子凭证): activate it, show it, accept it when scanned.

Activated by the insured person, by a family member who may pay for them and has their consent
(a code sent to the person's phone, as for a family link), or at the registration desk by staff
who saw the person's identity document. Everything at the insurer goes through the adapter.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from hospital.accounts.models import Account, CodePurpose, Role
from hospital.accounts.services import codes
from hospital.audit.service import record
from hospital.billing.models import FamilyPoolGrant, InsuranceVoucher, VoucherConsent
from hospital.billing.providers.insurance import (
    SandboxInsurance,
    ShownCode,
    looks_like_insurance_code,
)
from hospital.billing.providers.registry import insurance_adapter
from hospital.db import db
from hospital.error_codes import ErrorCode
from hospital.errors import Conflict
from hospital.notifications.messages import MessageTemplate
from hospital.organisation.models import Hospital
from hospital.patients.access import Permission, require_patient_access
from hospital.patients.consent import CONSENT_AT_DESK
from hospital.patients.models import FamilyLink, Patient, Relationship

DESK_ROLES = (Role.REGISTRAR, Role.ADMIN)
CONSENT_TEMPLATE = "billing.insurance_consent_code"
ACTIVATED_TEMPLATE = "billing.insurance_activated"
MESSAGE_TEMPLATES = {
    CONSENT_TEMPLATE: MessageTemplate(
        subject=_l("Someone asks to activate your medical-insurance code"),
        body=_l(
            "{hospital}: a family member asks to activate your medical-insurance code "
            "(医保电子凭证) and show it for you. Give them the code {code} only if you agree. "
            "It expires in {minutes} minutes."
        ),
    ),
    ACTIVATED_TEMPLATE: MessageTemplate(
        subject=_l("Your medical-insurance code is active"),
        body=_l(
            "{hospital}: your medical-insurance code (医保电子凭证) was activated for "
            "registration and payment. Not you? Call the hospital."
        ),
    ),
}

NOT_ACTIVATED = _l(
    "This person's medical-insurance code is not activated yet. Activate it first on the "
    "insurance page."
)


def active_voucher(patient_id: int) -> InsuranceVoucher | None:
    return db.session.scalar(
        sa.select(InsuranceVoucher).where(
            InsuranceVoucher.patient_id == patient_id, InsuranceVoucher.revoked_at.is_(None)
        )
    )


def require_voucher(patient_id: int) -> InsuranceVoucher:
    voucher = active_voucher(patient_id)
    if voucher is None:
        raise Conflict(NOT_ACTIVATED, code=ErrorCode.INSURANCE_NOT_ACTIVATED)
    return voucher


def _link(account: Account, patient_id: int) -> FamilyLink | None:
    return db.session.scalar(
        sa.select(FamilyLink).where(
            FamilyLink.account_id == account.id, FamilyLink.patient_id == patient_id
        )
    )


def _hospital(hospital_id: int) -> Hospital:
    return db.session.get_one(Hospital, hospital_id)


def send_consent_code(*, actor: Account, patient_id: int, now: datetime) -> int:
    """Text the insured person a code that says they agree; seconds until another may be sent."""
    patient = require_patient_access(
        actor, patient_id, Permission.PAY, action="insurance.consent_code"
    )
    if not patient.phone:
        raise Conflict(CONSENT_AT_DESK, code=ErrorCode.CONSENT_AT_DESK)
    link = _link(actor, patient.id)
    if link is not None and link.relationship is Relationship.SELF:
        raise Conflict(
            _l("This is your own profile: activate it directly, no code is needed."),
            code=ErrorCode.CONSENT_NOT_NEEDED,
        )
    return codes.send_phone_code(
        _hospital(patient.hospital_id),
        patient.phone,
        purpose=CodePurpose.FAMILY_LINK,
        template=CONSENT_TEMPLATE,
        language=actor.language.value,
        now=now,
    )


def activate(
    *, actor: Account, patient_id: int, consent_code: str | None, now: datetime
) -> InsuranceVoucher:
    """Activate the patient's insurance code, with the consent the actor's position needs."""
    if actor.has_role(*DESK_ROLES):
        patient = require_patient_access(
            actor, patient_id, Permission.MANAGE, action="insurance.activate"
        )
        consent = VoucherConsent.DESK
    else:
        patient = require_patient_access(
            actor, patient_id, Permission.PAY, action="insurance.activate"
        )
        link = _link(actor, patient.id)
        if link is not None and link.relationship is Relationship.SELF:
            consent = VoucherConsent.SELF
        else:
            if not patient.phone:
                raise Conflict(CONSENT_AT_DESK, code=ErrorCode.CONSENT_AT_DESK)
            if not (consent_code or "").strip():
                raise Conflict(
                    _l(
                        "The insured person must agree: send a code to their phone and enter "
                        "it, or go to the registration desk with their identity document."
                    ),
                    code=ErrorCode.CONSENT_REQUIRED,
                )
            codes.check_phone_code(
                _hospital(patient.hospital_id),
                patient.phone,
                consent_code or "",
                purpose=CodePurpose.FAMILY_LINK,
                now=now,
            )
            consent = VoucherConsent.CONSENT_CODE
    existing = active_voucher(patient.id)
    if existing is not None:
        return existing
    insured_ref = insurance_adapter(current_app.config).activate(
        hospital_id=patient.hospital_id,
        id_number=f"{patient.id_type.value}:{patient.id_number}",
        now=now,
    )
    voucher = InsuranceVoucher(
        hospital_id=patient.hospital_id,
        patient_id=patient.id,
        insured_ref=insured_ref,
        consent=consent,
        activated_by_account_id=actor.id,
        activated_at=now,
    )
    db.session.add(voucher)
    db.session.flush()
    record(
        action="insurance.activated",
        actor=actor,
        patient_id=patient.id,
        hospital_id=patient.hospital_id,
        object_type="insurance_voucher",
        object_id=str(voucher.id),
        detail={"consent": consent.value},
    )
    _tell(patient, ACTIVATED_TEMPLATE, now=now, key=f"activated:{voucher.id}")
    return voucher


def deactivate(*, actor: Account, patient_id: int, now: datetime) -> bool:
    """Turn the patient's insurance code off (the person, or a family member who pays for them)."""
    patient = require_patient_access(
        actor, patient_id, Permission.PAY, action="insurance.deactivate"
    )
    voucher = active_voucher(patient.id)
    if voucher is None:
        return False
    revoke(voucher, "insurance.deactivated", patient_id=patient.id, actor=actor, now=now)
    return True


def revoke(
    row: InsuranceVoucher | FamilyPoolGrant,
    action: str,
    *,
    patient_id: int,
    actor: Account,
    now: datetime,
) -> None:
    """End an insurance code or a family-pool grant from `now` on, audited as `action`."""
    row.revoked_at = now
    db.session.flush()
    record(
        action=action,
        actor=actor,
        patient_id=patient_id,
        hospital_id=row.hospital_id,
        object_type=row.__tablename__.removeprefix("billing_"),
        object_id=str(row.id),
    )


def show_code(*, actor: Account, patient_id: int, now: datetime) -> ShownCode:
    """A fresh code for the patient's phone page, from the insurer."""
    patient = require_patient_access(actor, patient_id, Permission.PAY, action="insurance.code")
    voucher = require_voucher(patient.id)
    return insurance_adapter(current_app.config).show_code(
        hospital_id=patient.hospital_id, insured_ref=voucher.insured_ref, now=now
    )


def balance_of(patient_id: int) -> int | None:
    """The personal account's balance at the insurer; None when the code is not activated."""
    voucher = active_voucher(patient_id)
    if voucher is None:
        return None
    return insurance_adapter(current_app.config).balance(insured_ref=voucher.insured_ref)


# Shown codes live minutes; a day later none can matter to a scan, a desk or a dispute.
KEEP_EXPIRED_CODES = timedelta(days=1)
# At most this many rows a run, so a backlog never holds a long delete in one transaction.
FORGET_CODES_BATCH = 5000


def forget_expired_codes(*, now: datetime, batch: int = FORGET_CODES_BATCH) -> int:
    """Delete up to `batch` sandbox codes that expired more than a day ago; how many went.

    Every page view of the insurance code shows a fresh one, so the sandbox insurer's table
    grows by a row a view. A real insurer keeps its own codes: then there is nothing to do.
    """
    adapter = insurance_adapter(current_app.config)
    if not isinstance(adapter, SandboxInsurance):
        return 0
    return adapter.forget_expired_codes(before=now - KEEP_EXPIRED_CODES, limit=batch)


def looks_like_code(raw: str) -> bool:
    return looks_like_insurance_code(raw)


def patient_for_code(hospital_id: int, raw: str, *, place: str, now: datetime) -> Patient | None:
    """The patient whose valid insurance code this is, at this hospital (audited); else None."""
    if not looks_like_insurance_code(raw):
        return None
    insured_ref = insurance_adapter(current_app.config).resolve_code(
        hospital_id=hospital_id, code=raw, now=now
    )
    if insured_ref is None:
        return None
    voucher = db.session.scalar(
        sa.select(InsuranceVoucher).where(
            InsuranceVoucher.hospital_id == hospital_id,
            InsuranceVoucher.insured_ref == insured_ref,
            InsuranceVoucher.revoked_at.is_(None),
        )
    )
    if voucher is None:
        return None
    record(
        action="insurance.code_used",
        patient_id=voucher.patient_id,
        hospital_id=hospital_id,
        object_type="insurance_voucher",
        object_id=str(voucher.id),
        detail={"place": place},
    )
    return db.session.get(Patient, voucher.patient_id)


def _tell(patient: Patient, template: str, *, now: datetime, key: str) -> None:
    from hospital.notifications.service import notify_patient

    hospital = db.session.get(Hospital, patient.hospital_id)
    if hospital is None:
        return
    notify_patient(
        patient,
        template,
        {"hospital": hospital.name_zh},
        now=now,
        dedupe_key=f"billing:insurance:{key}",
        family_permission=Permission.PAY,
    )
