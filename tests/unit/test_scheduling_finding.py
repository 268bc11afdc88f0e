"""Patients find a department by Chinese name, English name or pinyin initials."""

from __future__ import annotations

import pytest

from scheduling.finding import department_matches, index_letter, letters_present, pinyin_initials


def test_pinyin_initials_of_a_chinese_name() -> None:
    assert pinyin_initials("内科") == "nk"
    assert pinyin_initials("心血管内科") == "xxgnk"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", True),
        ("内", True),
        ("内科", True),
        ("nk", True),
        ("NK", True),
        ("n", True),
        ("medicine", True),
        ("Internal Med", True),
        ("外科", False),
        ("wk", False),
        ("kn", False),
    ],
)
def test_department_search(query: str, expected: bool) -> None:
    assert department_matches(query, "内科", "Internal Medicine", "nk") is expected


def test_initials_are_worked_out_when_not_stored() -> None:
    assert department_matches("ek", "儿科", "Paediatrics")


def test_the_index_letter_is_the_pinyin_initial_of_the_chinese_name() -> None:
    assert index_letter("内科") == "N"
    assert index_letter("儿科") == "E"
    assert index_letter("眼科") == "Y"
    assert index_letter("重症医学科") == "Z"
    assert index_letter("口腔科", initials="kqk") == "K"
    assert index_letter("ICU") == "#"  # no pinyin reading: listed under "#"
    assert index_letter("") == "#"


def test_letters_present_are_in_a_to_z_order_with_hash_last() -> None:
    assert letters_present(["Y", "#", "E", "N", "E"]) == ["E", "N", "Y", "#"]
    assert letters_present([]) == []
