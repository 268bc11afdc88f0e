"""Medical-insurance adapters: the fund's covered share, the insurance code and personal accounts.

A real adapter talks to the national medical-insurance platform (医保电子凭证): it activates a
person's code, shows a short-lived code for them, resolves a scanned one, settles the fund's
share and debits or credits personal accounts (one's own, or a family member's through 家庭共济).
The sandbox applies a configured plan and keeps its insured persons in its own tables.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa

from hospital.billing.insurance import Line, Plan, Split, split_lines
from hospital.billing.models import SandboxInsuranceCode, SandboxInsured
from hospital.db import db, execute_dml

DEFAULT_COVERAGE = {
    "consultation": 50,
    "lab_test": 70,
    "imaging": 60,
    "medicine": 80,
    "procedure": 70,
}

# No 0/O, 1/I: a code may be read aloud and typed at a desk.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_PREFIX = "YB"
CODE_LIFETIME = timedelta(minutes=10)


class InsufficientBalance(Exception):
    """The personal account holds less than the debit asks."""


@dataclass(frozen=True)
class ShownCode:
    code: str
    expires_at: datetime


class InsuranceAdapter(Protocol):
    name: str

    def quote(self, lines: Sequence[Line], *, deductible_used_fen: int) -> Split: ...

    def settle(self, *, out_trade_no: str, amount_fen: int, now: datetime) -> str: ...

    def refund(
        self,
        *,
        out_trade_no: str,
        provider_txn_id: str,
        refund_no: str,
        amount_fen: int,
        now: datetime,
    ) -> str: ...

    def activate(self, *, hospital_id: int, id_number: str, now: datetime) -> str:
        """Activate the person's insurance code; the insurer's id of the person (insured_ref)."""
        ...

    def show_code(self, *, hospital_id: int, insured_ref: str, now: datetime) -> ShownCode:
        """A fresh short-lived code for the person, to be scanned or typed."""
        ...

    def resolve_code(self, *, hospital_id: int, code: str, now: datetime) -> str | None:
        """The insured_ref of a valid code shown for this hospital; None otherwise."""
        ...

    def balance(self, *, insured_ref: str) -> int:
        """The personal account's balance in fen."""
        ...

    def debit(self, *, insured_ref: str, amount_fen: int, reference: str, now: datetime) -> str:
        """Take money from the personal account (InsufficientBalance); the insurer's txn id."""
        ...

    def credit(self, *, insured_ref: str, amount_fen: int, reference: str, now: datetime) -> str:
        """Return money to the personal account (a refund or a release); the txn id."""
        ...


def looks_like_insurance_code(raw: str) -> bool:
    code = normalise_code(raw)
    return len(code) == len(CODE_PREFIX) + 16 and code.startswith(CODE_PREFIX)


def normalise_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "") if ch not in " -\t\r\n").upper()


class SandboxInsurance:
    name = "insurance_sandbox"

    def __init__(
        self,
        *,
        coverage_percent: Mapping[str, int] | None = None,
        deductible_fen: int = 1000,
        opening_balance_fen: int = 50000,
        secret: str = "",
    ) -> None:
        self.plan = Plan(dict(coverage_percent or DEFAULT_COVERAGE), deductible_fen)
        self.opening_balance_fen = opening_balance_fen
        self.secret = secret.encode()

    def quote(self, lines: Sequence[Line], *, deductible_used_fen: int) -> Split:
        return split_lines(lines, self.plan, deductible_used_fen)

    def settle(self, *, out_trade_no: str, amount_fen: int, now: datetime) -> str:
        return "INS" + secrets.token_hex(10)

    def refund(
        self,
        *,
        out_trade_no: str,
        provider_txn_id: str,
        refund_no: str,
        amount_fen: int,
        now: datetime,
    ) -> str:
        return "INSR-" + refund_no

    def activate(self, *, hospital_id: int, id_number: str, now: datetime) -> str:
        key = hmac.new(self.secret, id_number.encode(), hashlib.sha256).hexdigest()
        found = db.session.scalar(
            sa.select(SandboxInsured).where(
                SandboxInsured.hospital_id == hospital_id, SandboxInsured.person_key == key
            )
        )
        if found is not None:
            return found.insured_ref
        insured = SandboxInsured(
            hospital_id=hospital_id,
            insured_ref="YBP" + secrets.token_hex(12),
            person_key=key,
            balance_fen=self.opening_balance_fen,
            created_at=now,
        )
        db.session.add(insured)
        db.session.flush()
        return insured.insured_ref

    def show_code(self, *, hospital_id: int, insured_ref: str, now: datetime) -> ShownCode:
        code = CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
        shown = SandboxInsuranceCode(
            hospital_id=hospital_id,
            code=code,
            insured_ref=insured_ref,
            expires_at=now + CODE_LIFETIME,
        )
        db.session.add(shown)
        db.session.flush()
        return ShownCode(code, shown.expires_at)

    def forget_expired_codes(self, *, before: datetime, limit: int) -> int:
        """Delete at most limit codes that expired before `before` (oldest first); how many."""
        oldest = (
            sa.select(SandboxInsuranceCode.id)
            .where(SandboxInsuranceCode.expires_at < before)
            .order_by(SandboxInsuranceCode.expires_at, SandboxInsuranceCode.id)
            .limit(limit)
        )
        deleted = execute_dml(
            sa.delete(SandboxInsuranceCode)
            .where(SandboxInsuranceCode.id.in_(oldest.scalar_subquery()))
            .execution_options(synchronize_session=False)
        ).rowcount
        return int(deleted or 0)

    def resolve_code(self, *, hospital_id: int, code: str, now: datetime) -> str | None:
        return db.session.scalar(
            sa.select(SandboxInsuranceCode.insured_ref).where(
                SandboxInsuranceCode.code == normalise_code(code),
                SandboxInsuranceCode.hospital_id == hospital_id,
                SandboxInsuranceCode.expires_at > now,
            )
        )

    def balance(self, *, insured_ref: str) -> int:
        value = db.session.scalar(
            sa.select(SandboxInsured.balance_fen).where(SandboxInsured.insured_ref == insured_ref)
        )
        return int(value or 0)

    def debit(self, *, insured_ref: str, amount_fen: int, reference: str, now: datetime) -> str:
        taken = execute_dml(
            sa.update(SandboxInsured)
            .where(
                SandboxInsured.insured_ref == insured_ref,
                SandboxInsured.balance_fen >= amount_fen,
            )
            .values(balance_fen=SandboxInsured.balance_fen - amount_fen)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not taken:
            raise InsufficientBalance(insured_ref)
        return "YBD" + secrets.token_hex(10)

    def credit(self, *, insured_ref: str, amount_fen: int, reference: str, now: datetime) -> str:
        execute_dml(
            sa.update(SandboxInsured)
            .where(SandboxInsured.insured_ref == insured_ref)
            .values(balance_fen=SandboxInsured.balance_fen + amount_fen)
            .execution_options(synchronize_session=False)
        )
        return "YBC" + secrets.token_hex(10)
