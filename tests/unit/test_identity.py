import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hospital.patients.identity import (
    PHONE_PATTERN,
    IdentityError,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_passport,
    normalize_phone,
    parse_resident_id,
    resident_id_check_char,
)


def test_a_valid_resident_id_gives_its_birth_date_and_sex() -> None:
    rid = parse_resident_id("11010519491231002x")
    assert rid.number == "11010519491231002X"
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.sex == "female"


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18 characters"),
        ("1101051949123100XX", "18 characters"),
        ("11010519490230002" + resident_id_check_char("11010519490230002"), "not a real date"),
    ],
)
def test_an_invalid_resident_id_is_refused_with_a_reason(number: str, why: str) -> None:
    with pytest.raises(IdentityError, match=why):
        parse_resident_id(number)


def test_passport_numbers_are_normalised_or_refused() -> None:
    assert normalize_passport(" e1234 5678 ") == "E12345678"
    with pytest.raises(IdentityError):
        normalize_passport("E1-234")


@pytest.mark.parametrize("raw", ["138 0013 8000", "+86 138-0013-8000", "008613800138000"])
def test_mainland_mobiles_are_normalised(raw: str) -> None:
    assert normalize_phone(raw) == "13800138000"


@pytest.mark.parametrize("raw", ["12345", "23800138000", "+0123", ""])
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(IdentityError):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("李", "李"),
        ("张明", "张*"),
        ("张三明", "张*明"),
        ("欧阳娜娜", "欧阳*娜"),
        ("John Smith", "J*** S."),
        ("Li", "L*"),
    ],
)
def test_names_are_masked_for_public_screens(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_numbers_are_masked() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+493012") == "*******"  # too short to show any of it
    assert mask_phone("+49301234") == "+49**1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"


@settings(max_examples=300)
@given(st.from_regex(PHONE_PATTERN))
def test_every_phone_the_document_allows_is_accepted(raw: str) -> None:
    normalize_phone(raw)


@settings(max_examples=500)
@given(st.text(alphabet="+0123456789 -()\n86x", max_size=22))
def test_the_documented_phone_pattern_is_exactly_what_is_accepted(raw: str) -> None:
    try:
        normalize_phone(raw)
        accepted = True
    except IdentityError:
        accepted = False
    assert accepted == bool(re.search(PHONE_PATTERN, raw)), raw


def test_upper_casing_does_not_make_a_passport_number() -> None:
    with pytest.raises(IdentityError):
        normalize_passport("straße")


def _documented_id_pattern(id_type: str) -> str:
    from hospital.patients.schemas import IDENTITY_BY_TYPE

    (choice,) = [
        c for c in IDENTITY_BY_TYPE["oneOf"] if c["properties"]["id_type"]["enum"] == [id_type]
    ]
    return str(choice["properties"]["id_number"]["pattern"])


@settings(max_examples=300)
@given(st.text(alphabet="ab XZ09ßı\t", max_size=20))
def test_the_documented_passport_pattern_is_exactly_what_is_accepted(raw: str) -> None:
    try:
        normalize_passport(raw)
        accepted = True
    except IdentityError:
        accepted = False
    assert accepted == bool(re.search(_documented_id_pattern("passport"), raw)), raw


def test_every_valid_resident_id_has_the_documented_form() -> None:
    pattern = _documented_id_pattern("resident_id")
    for number in (" 11010519491231002x", "11010519491231002X "):
        parse_resident_id(number)
        assert re.search(pattern, number)
