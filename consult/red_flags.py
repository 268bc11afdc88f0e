"""Emergency words in a question (chest pain, 呼吸困难, …), read with the guide's triage lexicon."""

from __future__ import annotations

from dataclasses import dataclass

from hospital.guide.triage import shipped_lexicon, triage


@dataclass(frozen=True)
class RedFlag:
    key: str
    label_zh: str
    label_en: str


def red_flags_in(text: str) -> list[RedFlag]:
    """The red-flag symptoms the question names, in either language; empty when none."""
    if not text.strip():
        return []
    result = triage(shipped_lexicon(), text)
    return [RedFlag(e.key, e.label_zh, e.label_en) for e in result.red_flags]
