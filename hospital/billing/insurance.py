"""Medical-insurance split: the covered share by item category after a per-visit deductible.

Pure logic; the adapters (sandbox, real insurers) live in providers/insurance.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One order line as insurance sees it."""

    key: int
    category: str
    amount_fen: int


@dataclass(frozen=True)
class Plan:
    """Percent covered per category (missing: not covered) and the deductible per visit."""

    coverage_percent: Mapping[str, int]
    deductible_fen: int


@dataclass(frozen=True)
class Split:
    covered_by_line: dict[int, int]
    deductible_applied_fen: int

    @property
    def insurance_fen(self) -> int:
        return sum(self.covered_by_line.values())


def split_lines(lines: Sequence[Line], plan: Plan, deductible_used_fen: int = 0) -> Split:
    """Work out what insurance pays per line.

    The patient first pays the rest of the visit's deductible out of the covered lines (in
    order), then insurance pays its percentage of what is left of each covered line, rounded
    down to the fen so the patient's share is never understated.
    """
    deductible_left = max(plan.deductible_fen - deductible_used_fen, 0)
    applied = 0
    covered: dict[int, int] = {}
    for line in lines:
        percent = int(plan.coverage_percent.get(line.category, 0))
        if percent <= 0 or line.amount_fen <= 0:
            covered[line.key] = 0
            continue
        take = min(deductible_left, line.amount_fen)
        deductible_left -= take
        applied += take
        covered[line.key] = (line.amount_fen - take) * min(percent, 100) // 100
    return Split(covered_by_line=covered, deductible_applied_fen=applied)
