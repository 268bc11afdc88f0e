"""Plain-word triage: the pure scoring rule and the phrase set it must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from hospital.guide.triage import (
    Lexicon,
    entry_from_dict,
    evaluate,
    for_hospital,
    load_shipped,
    read_phrases,
    shipped_lexicon,
    triage,
)

PHRASES = Path(__file__).resolve().parent.parent / "data" / "triage_phrases.tsv"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return shipped_lexicon()


def test_the_phrase_set_reaches_the_promised_accuracy(lexicon: Lexicon) -> None:
    phrases = read_phrases(PHRASES)
    assert len(phrases) >= 300
    assert {p.red_flag for p in phrases} == {True, False}
    result = evaluate(lexicon, phrases)
    assert result.top3_accuracy >= 0.90, result.misses
    assert result.red_flag_recall == 1.0
    assert result.false_alarms == 0


@pytest.mark.parametrize(
    "text", ["胸痛", "孩子发烧后昏迷", "I can't breathe", "喘不上气", "chest pian"]
)
def test_red_flags_answer_emergency_first(lexicon: Lexicon, text: str) -> None:
    result = triage(lexicon, text)
    assert result.emergency
    assert result.suggestions[0].target.code == "JZK"


def test_children_come_first_with_the_symptoms_as_reason(lexicon: Lexicon) -> None:
    result = triage(lexicon, "孩子发烧咳嗽")
    assert result.child and not result.emergency
    first = result.suggestions[0]
    assert first.target.code == "EK"
    assert first.reason_zh() == "儿童、发热、咳嗽 → 儿科"
    assert "NK" in result.top(3)


def test_pregnancy_comes_before_children_and_symptoms(lexicon: Lexicon) -> None:
    assert triage(lexicon, "pregnant with a headache").top(2) == ["FCK", "SJNK"]


def test_a_child_asking_only_for_a_service_is_not_sent_to_paediatrics(lexicon: Lexicon) -> None:
    assert triage(lexicon, "孩子的化验报告").top(1) == ["REPORTS"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("xgt", "GK"),  # 膝盖疼 by initials
        ("haizi fashao", "EK"),  # full pinyin typed apart
        ("发骚", "FRMZ"),  # homophone with sh/s mixed up
        ("stomache ache", "XHNK"),  # misspelt English
        ("波棱盖疼", "GK"),  # north-eastern word for the knee
        ("pay my bill", "PAY"),
        ("看眼睛", "YK"),
    ],
)
def test_spellings_people_really_type(lexicon: Lexicon, text: str, code: str) -> None:
    assert code in triage(lexicon, text).top(3)


def test_ambiguous_initials_keep_every_meaning(lexicon: Lexicon) -> None:
    assert {"GK", "KQK"} <= set(triage(lexicon, "yt").top(5))


def test_english_words_are_not_read_as_pinyin_initials(lexicon: Lexicon) -> None:
    assert triage(lexicon, "hello there").suggestions == []


def test_a_hospital_without_the_department_gets_its_fallback(lexicon: Lexicon) -> None:
    result = triage(lexicon, "膝盖疼")
    kept = for_hospital(lexicon, result, {"NK", "WK", "EK"})
    assert [s.target.code for s in kept] == ["WK"]
    assert kept[0].target.clinician_zh == "骨科医生"


def test_services_and_the_emergency_department_are_kept_everywhere(lexicon: Lexicon) -> None:
    kept = for_hospital(lexicon, triage(lexicon, "胸痛"), set())
    assert kept[0].target.code == "JZK"
    assert [s.target.code for s in for_hospital(lexicon, triage(lexicon, "缴费"), set())] == ["PAY"]


def test_an_admin_edit_overrides_the_shipped_entry() -> None:
    raw = next(e for e in load_shipped()["entries"] if e["key"] == "teeth")
    edited = entry_from_dict({**raw, "zh": [*raw["zh"], "牙花子疼"], "targets": {"WK": 3}})
    lexicon = Lexicon.shipped([edited])
    assert triage(lexicon, "牙花子疼").top(1) == ["WK"]
    disabled = entry_from_dict({**raw, "active": False})
    assert triage(Lexicon.shipped([disabled]), "牙疼").suggestions == []
