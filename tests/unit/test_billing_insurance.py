"""Insurance split: covered share by category after the per-visit deductible."""

from __future__ import annotations

from hospital.billing.insurance import Line, Plan, split_lines

PLAN = Plan({"lab_test": 70, "medicine": 80}, deductible_fen=1000)


def test_deductible_is_paid_first_then_the_category_share() -> None:
    split = split_lines([Line(1, "lab_test", 5000)], PLAN)
    assert split.deductible_applied_fen == 1000
    assert split.covered_by_line == {1: (5000 - 1000) * 70 // 100}


def test_uncovered_categories_are_self_pay() -> None:
    split = split_lines([Line(1, "registration", 1200), Line(2, "medicine", 2000)], PLAN)
    assert split.covered_by_line[1] == 0
    assert split.covered_by_line[2] == (2000 - 1000) * 80 // 100


def test_the_deductible_applies_once_per_visit() -> None:
    first = split_lines([Line(1, "lab_test", 600)], PLAN)
    assert first.deductible_applied_fen == 600 and first.insurance_fen == 0
    second = split_lines([Line(2, "lab_test", 1000)], PLAN, deductible_used_fen=600)
    assert second.deductible_applied_fen == 400
    assert second.insurance_fen == (1000 - 400) * 70 // 100
    third = split_lines([Line(3, "lab_test", 1000)], PLAN, deductible_used_fen=1000)
    assert third.deductible_applied_fen == 0 and third.insurance_fen == 700


def test_the_patients_share_is_never_understated() -> None:
    split = split_lines([Line(1, "lab_test", 1001)], Plan({"lab_test": 70}, 0))
    assert split.insurance_fen == 700  # 700.7 rounds down: the patient pays the odd fen
