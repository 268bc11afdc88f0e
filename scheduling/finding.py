"""Find a department by what a patient types: Chinese name, English name or pinyin initials."""

from __future__ import annotations

import string

from pypinyin import Style, lazy_pinyin

LETTERS = tuple(string.ascii_uppercase)


def pinyin_initials(name_zh: str) -> str:
    """内科 -> "nk"; characters without a reading are dropped."""
    letters = lazy_pinyin(name_zh, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(letters).lower()


def department_matches(query: str, name_zh: str, name_en: str, initials: str = "") -> bool:
    """True when the query is part of either name or a prefix of the pinyin initials."""
    query = "".join(query.split()).lower()
    if not query:
        return True
    initials = (initials or pinyin_initials(name_zh)).lower()
    return (
        query in name_zh.replace(" ", "")
        or query in name_en.replace(" ", "").lower()
        or initials.startswith(query)
    )


def index_letter(name_zh: str, initials: str = "") -> str:
    """The A-Z index letter of a department: the pinyin initial of its Chinese name ("#": none)."""
    first = (initials or pinyin_initials(name_zh))[:1].upper()
    return first if first in LETTERS else "#"


def letters_present(letters: list[str]) -> list[str]:
    """The index letters that have at least one department, in A-Z order ("#" last)."""
    present = set(letters)
    return [letter for letter in (*LETTERS, "#") if letter in present]
