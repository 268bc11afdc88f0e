"""Medical-insurance adapters: the sandbox settles the covered share of an order.

A real adapter would talk to the national medical-insurance platform with the patient's
e-voucher (医保电子凭证); the sandbox applies a configured plan and always settles.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from hospital.billing.insurance import Line, Plan, Split, split_lines

DEFAULT_COVERAGE = {
    "consultation": 50,
    "lab_test": 70,
    "imaging": 60,
    "medicine": 80,
    "procedure": 70,
}


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


class SandboxInsurance:
    name = "insurance_sandbox"

    def __init__(
        self, *, coverage_percent: Mapping[str, int] | None = None, deductible_fen: int = 1000
    ) -> None:
        self.plan = Plan(dict(coverage_percent or DEFAULT_COVERAGE), deductible_fen)

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
