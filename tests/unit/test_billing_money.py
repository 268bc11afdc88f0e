"""Money arithmetic: amounts as strings, proportional refund splits, refund policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hospital.billing.pricing import (
    fen_to_yuan,
    policy_refund_fen,
    split_refund,
    yuan_to_fen,
)
from hospital.money import format_fen


def test_amount_strings_round_trip() -> None:
    assert fen_to_yuan(12345) == "123.45"
    assert fen_to_yuan(5) == "0.05"
    assert yuan_to_fen("123.45") == 12345
    assert yuan_to_fen("0.05") == 5


@pytest.mark.parametrize("text", ["1e3", "12.5", "-1.00", "01.00", " 1.00", "1.000", "", "1,00"])
def test_odd_amount_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(text)


def test_amounts_read_the_same_in_both_languages() -> None:
    assert format_fen(1200) == "¥12.00"
    assert format_fen(5) == "¥0.05"
    assert format_fen(123456) == "¥1,234.56"
    assert format_fen(5000) == "¥50.00"  # whatever the page language: never "CN¥50.00"


@given(
    st.dictionaries(st.sampled_from(["self_pay", "insurance"]), st.integers(0, 10**7), min_size=1),
    st.data(),
)
def test_a_split_adds_up_and_stays_within_each_source(
    remaining: dict[str, int], data: st.DataObject
) -> None:
    total = sum(remaining.values())
    if total == 0:
        return
    amount = data.draw(st.integers(1, total))
    parts = split_refund(amount, remaining)
    assert sum(parts.values()) == amount
    for source, part in parts.items():
        assert 0 < part <= remaining[source]


def test_a_split_follows_the_proportion_of_the_sources() -> None:
    assert split_refund(1000, {"self_pay": 3000, "insurance": 7000}) == {
        "self_pay": 300,
        "insurance": 700,
    }


def test_a_refund_beyond_what_is_left_is_refused() -> None:
    with pytest.raises(ValueError):
        split_refund(101, {"self_pay": 100})
    with pytest.raises(ValueError):
        split_refund(0, {"self_pay": 100})


def test_policy_refund_is_a_rounded_down_percentage() -> None:
    assert policy_refund_fen(1299, 50) == 649
    assert policy_refund_fen(1299, 100) == 1299
    assert policy_refund_fen(1299, 0) == 0
    with pytest.raises(ValueError):
        policy_refund_fen(100, 101)
