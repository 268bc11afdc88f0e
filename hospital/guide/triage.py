"""Plain-word triage (智能导诊): rank departments and services for what a person types.

Pure logic: no Flask, no database. A `Lexicon` is built from entries (the shipped
`lexicon.json`, merged with a hospital's own edits) and `triage(lexicon, text)` answers.

The scoring rule, in order:
1. Red-flag words (胸痛, 呼吸困难, chest pain, …) make the answer an emergency: "call 120 / go
   to the emergency department now" comes before any suggestion, and the emergency department
   ranks first.
2. Every other matched entry adds, to each of its targets, target weight × match quality
   (exact word 1.0, English misspelling 0.85, full pinyin or homophone 0.8, pinyin initials 0.7).
3. Pregnancy words put obstetrics first, then child words put paediatrics first, unless the
   person only asked for a service (pay, reports, my number).
4. Ties go to the order of the target catalogue. Each suggestion keeps the labels of the
   entries that scored it, most weight first: that is the reason shown.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pypinyin import lazy_pinyin

SHIPPED_LEXICON = Path(__file__).with_name("lexicon.json")
ENTRY_KINDS = ("red_flag", "child", "pregnancy", "symptom", "service")
TARGET_KINDS = ("emergency", "department", "service")
EMERGENCY = "JZK"
PAEDIATRICS = "EK"
OBSTETRICS = "FCK"

EXACT = 1.0
MISSPELT = 0.85
PINYIN = 0.8
INITIALS = 0.7

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_TOKEN = re.compile(r"[a-z0-9']+")
_SUFFIXES = ("ing", "es", "s", "ed", "y")
# Sounds many speakers (and their input methods) mix up: zh/z, ch/c, sh/s, n/l, -ng/-n.
_FUZZY_SOUNDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ang", "an"), ("eng", "en"), ("ing", "in"))


def fuzzy_syllable(syllable: str) -> str:
    """A syllable with the sounds people mix up merged: shao and sao read alike."""
    for sound, plain in _FUZZY_SOUNDS:
        syllable = syllable.replace(sound, plain)
    return "l" + syllable[1:] if syllable.startswith("n") else syllable


@dataclass(frozen=True)
class Target:
    """A department (or clinician type), a service, or the emergency department."""

    code: str
    kind: str
    name_zh: str
    name_en: str
    clinician_zh: str = ""
    clinician_en: str = ""
    fallback: str = ""
    endpoint: str = ""


@dataclass(frozen=True)
class Entry:
    """One curated meaning: the words that say it and where it leads."""

    key: str
    kind: str
    label_zh: str
    label_en: str
    zh: tuple[str, ...]
    en: tuple[str, ...]
    targets: Mapping[str, float]
    pinyin: tuple[str, ...] = ()
    active: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "zh": list(self.zh),
            "en": list(self.en),
            "pinyin": list(self.pinyin),
            "targets": dict(self.targets),
            "active": self.active,
        }


def entry_from_dict(raw: Mapping[str, Any]) -> Entry:
    return Entry(
        key=str(raw["key"]),
        kind=str(raw["kind"]),
        label_zh=str(raw.get("label_zh", "")),
        label_en=str(raw.get("label_en", "")),
        zh=tuple(str(w) for w in raw.get("zh", ())),
        en=tuple(str(w) for w in raw.get("en", ())),
        targets={str(k): float(v) for k, v in dict(raw.get("targets", {})).items()},
        pinyin=tuple(str(w) for w in raw.get("pinyin", ())),
        active=bool(raw.get("active", True)),
    )


def pinyin_of(word: str) -> tuple[str, str]:
    """Full toneless pinyin and initials of a Chinese word: 发烧 -> ("fashao", "fs")."""
    syllables = [s for s in lazy_pinyin(word, errors="ignore") if s.isalpha()]
    return "".join(syllables), "".join(s[0] for s in syllables)


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, curly quotes straightened."""
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


@dataclass(frozen=True)
class Match:
    entry: Entry
    quality: float
    word: str


@dataclass
class Suggestion:
    target: Target
    score: float
    reasons: list[Entry] = field(default_factory=list)

    def reason_zh(self) -> str:
        return "、".join(e.label_zh for e in self.reasons) + " → " + self.target.name_zh

    def reason_en(self) -> str:
        return ", ".join(e.label_en for e in self.reasons) + " → " + self.target.name_en


@dataclass
class TriageResult:
    text: str
    emergency: bool
    red_flags: list[Entry]
    child: bool
    pregnancy: bool
    suggestions: list[Suggestion]
    matches: list[Match]

    @property
    def understood(self) -> bool:
        return bool(self.suggestions)

    def top(self, n: int = 3) -> list[str]:
        return [s.target.code for s in self.suggestions[:n]]


class Lexicon:
    """Targets and entries, with the indexes the matcher needs built once."""

    def __init__(self, targets: Mapping[str, Target], entries: Iterable[Entry]) -> None:
        self.targets = dict(targets)
        self.entries = [e for e in entries if e.active]
        self._order = {code: n for n, code in enumerate(self.targets)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any], overrides: Iterable[Entry] = ()) -> Lexicon:
        targets = {
            code: Target(
                code=code,
                kind=str(raw["kind"]),
                name_zh=str(raw["zh"]),
                name_en=str(raw["en"]),
                clinician_zh=str(raw.get("clinician_zh", "")),
                clinician_en=str(raw.get("clinician_en", "")),
                fallback=str(raw.get("fallback", "")),
                endpoint=str(raw.get("endpoint", "")),
            )
            for code, raw in data["targets"].items()
        }
        entries = {raw["key"]: entry_from_dict(raw) for raw in data["entries"]}
        for entry in overrides:
            entries[entry.key] = entry
        return cls(targets, entries.values())

    @classmethod
    def shipped(cls, overrides: Iterable[Entry] = ()) -> Lexicon:
        return cls.from_data(load_shipped(), overrides)

    @cached_property
    def _zh_words(self) -> list[tuple[str, Entry]]:
        words = [(w, e) for e in self.entries for w in e.zh if w]
        return sorted(words, key=lambda we: -len(we[0]))

    @cached_property
    def _syllable_words(self) -> list[tuple[tuple[str, ...], str, Entry]]:
        """Chinese words of two characters or more by their syllables, for homophone typos."""
        out = []
        for word, entry in self._zh_words:
            syllables = tuple(fuzzy_syllable(p) for p in lazy_pinyin(word, errors="ignore"))
            if len(syllables) >= 2 and len(syllables) == len(word):
                out.append((syllables, word, entry))
        return out

    @cached_property
    def _pinyin_words(self) -> dict[str, list[tuple[Entry, float]]]:
        """Latin spellings of Chinese words: full pinyin, initials, and curated extras.

        Initials are ambiguous (yt: 腰疼 or 牙疼), so a spelling keeps every entry it may mean.
        """
        table: dict[str, dict[str, tuple[Entry, float]]] = {}

        def put(spelling: str, entry: Entry, quality: float) -> None:
            if len(spelling) < 2:
                return
            meanings = table.setdefault(spelling, {})
            known = meanings.get(entry.key)
            if known is None or known[1] < quality:
                meanings[entry.key] = (entry, quality)

        for entry in self.entries:
            for word in entry.zh:
                full, initials = pinyin_of(word)
                if len(full) >= 4:
                    put(full, entry, PINYIN)
                if len(word) >= 2:
                    put(initials, entry, INITIALS)
            for spelling in entry.pinyin:
                put(normalise(spelling).replace(" ", ""), entry, PINYIN)
        return {spelling: list(m.values()) for spelling, m in table.items()}

    @cached_property
    def _en_phrases(self) -> list[tuple[tuple[str, ...], Entry]]:
        phrases = [
            (tuple(_LATIN_TOKEN.findall(normalise(w))), e) for e in self.entries for w in e.en
        ]
        return sorted((p for p in phrases if p[0]), key=lambda pe: -len(pe[0]))

    @cached_property
    def _en_vocabulary(self) -> list[str]:
        return sorted({token for phrase, _ in self._en_phrases for token in phrase})

    def order(self, code: str) -> int:
        return self._order.get(code, len(self._order))


def load_shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED_LEXICON.read_text(encoding="utf-8"))
    return data


_shipped_cache: list[Lexicon] = []


def shipped_lexicon() -> Lexicon:
    """The shipped lexicon, built once per process (a hospital without edits uses it)."""
    if not _shipped_cache:
        _shipped_cache.append(Lexicon.shipped())
    return _shipped_cache[0]


# ---- matching ---------------------------------------------------------------------------------


def _match_chinese(lexicon: Lexicon, text: str) -> tuple[list[Match], str]:
    """Longest words first, each stretch of text used once; returns what is left uncovered."""
    found: list[Match] = []
    covered = [False] * len(text)
    for word, entry in lexicon._zh_words:
        start = text.find(word)
        while start != -1:
            span = range(start, start + len(word))
            if not any(covered[i] for i in span):
                for i in span:
                    covered[i] = True
                found.append(Match(entry, EXACT, word))
            start = text.find(word, start + 1)
    left = "".join(" " if covered[i] else ch for i, ch in enumerate(text))
    return found, left


def _match_homophones(lexicon: Lexicon, left: str) -> list[Match]:
    """A word typed with the wrong characters of the right sound (发骚 for 发烧)."""
    found: list[Match] = []
    for run in re.findall(r"[\u3400-\u9fff]{2,}", left):
        syllables = [fuzzy_syllable(p) for p in lazy_pinyin(run, errors="ignore")]
        if len(syllables) != len(run):
            continue
        used = [False] * len(run)
        for word_syllables, word, entry in lexicon._syllable_words:
            n = len(word_syllables)
            for i in range(len(run) - n + 1):
                if tuple(syllables[i : i + n]) == word_syllables and not any(used[i : i + n]):
                    for j in range(i, i + n):
                        used[j] = True
                    found.append(Match(entry, PINYIN, word))
    return found


def _correct(token: str, vocabulary: Sequence[str]) -> tuple[str, bool]:
    if token in vocabulary:
        return token, False
    for suffix in _SUFFIXES:
        stem = token[: -len(suffix)]
        if token.endswith(suffix) and len(stem) >= 3 and stem in vocabulary:
            return stem, False
    if len(token) >= 3:
        for word in vocabulary:  # two neighbouring letters swapped: pian for pain
            if len(word) == len(token) and _swapped(word, token):
                return word, True
        close = difflib.get_close_matches(token, vocabulary, n=1, cutoff=0.8)
        if close and (
            len(token) >= 4 or difflib.SequenceMatcher(None, token, close[0]).ratio() >= 0.85
        ):
            return close[0], True
    return token, False


def _swapped(word: str, token: str) -> bool:
    diff = [i for i, (a, b) in enumerate(zip(word, token, strict=True)) if a != b]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and word[diff[0]] == token[diff[1]]
        and word[diff[1]] == token[diff[0]]
    )


def _match_english(lexicon: Lexicon, tokens: list[str]) -> tuple[list[Match], list[str]]:
    vocabulary = lexicon._en_vocabulary
    corrected = [_correct(t, vocabulary) for t in tokens]
    words = [w for w, _ in corrected]
    used = [False] * len(words)
    found: list[Match] = []
    for phrase, entry in lexicon._en_phrases:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase and not any(used[i : i + n]):
                for j in range(i, i + n):
                    used[j] = True
                misspelt = any(corrected[j][1] for j in range(i, i + n))
                found.append(Match(entry, MISSPELT if misspelt else EXACT, " ".join(phrase)))
    left = [t for t, u in zip(tokens, used, strict=True) if not u]
    return found, left


def _match_pinyin(lexicon: Lexicon, token: str) -> list[Match]:
    """Read a Latin token as known pinyin spellings (whole words or initials) end to end.

    The whole token must be covered, so an English word that happens to contain a pair of
    initials is not read as Chinese.
    """
    table = lexicon._pinyin_words
    n = len(token)
    # best[i]: (quality-weighted letters, matches) reading token[i:] completely, or None.
    best: list[tuple[float, list[Match]] | None] = [None] * (n + 1)
    best[n] = (0.0, [])
    for i in range(n - 1, -1, -1):
        for j in range(i + 2, min(n, i + 24) + 1):
            meanings, rest = table.get(token[i:j]), best[j]
            if not meanings or rest is None:
                continue
            quality = max(q for _, q in meanings)
            gained = (j - i) * quality + rest[0]
            current = best[i]
            if current is None or gained > current[0]:
                here = [Match(entry, q, token[i:j]) for entry, q in meanings]
                best[i] = (gained, [*here, *rest[1]])
    found = best[0]
    return found[1] if found else []


def find_matches(lexicon: Lexicon, text: str) -> list[Match]:
    clean = normalise(text)
    found, left = _match_chinese(lexicon, clean)
    found += _match_homophones(lexicon, left)
    tokens = _LATIN_TOKEN.findall(_CJK.sub(" ", left))
    english, rest = _match_english(lexicon, tokens)
    found += english
    letters = [t for t in rest if t.isalpha()]
    joined = _match_pinyin(lexicon, "".join(letters)) if len(letters) > 1 else []
    if joined:  # "fa shao": syllables typed apart
        return found + joined
    for token in letters:
        found += _match_pinyin(lexicon, token)
    return found


# ---- scoring ----------------------------------------------------------------------------------


def triage(lexicon: Lexicon, text: str, *, limit: int = 5) -> TriageResult:
    """Rank targets for a phrase by the module's scoring rule."""
    matches = find_matches(lexicon, text)
    best: dict[str, Match] = {}
    for m in matches:
        if m.entry.key not in best or best[m.entry.key].quality < m.quality:
            best[m.entry.key] = m
    kinds = {m.entry.kind for m in best.values()}
    scores: dict[str, float] = {}
    reasons: dict[str, dict[str, tuple[float, Entry]]] = {}
    for m in best.values():
        for code, weight in m.entry.targets.items():
            if code not in lexicon.targets:
                continue
            gain = weight * m.quality
            scores[code] = scores.get(code, 0.0) + gain
            reasons.setdefault(code, {})[m.entry.key] = (gain, m.entry)
    emergency = "red_flag" in kinds
    child = "child" in kinds
    pregnancy = "pregnancy" in kinds
    asked_for_care = bool(kinds & {"symptom", "red_flag"}) or not (kinds & {"service"})
    top = max(scores.values(), default=0.0)
    if asked_for_care and child and PAEDIATRICS in lexicon.targets:
        top += 1
        scores[PAEDIATRICS] = top
    if asked_for_care and pregnancy and OBSTETRICS in lexicon.targets:
        top += 1
        scores[OBSTETRICS] = top
    if emergency and EMERGENCY in lexicon.targets:
        scores[EMERGENCY] = top + 1
    ranked = sorted(scores, key=lambda c: (-scores[c], lexicon.order(c)))
    suggestions = []
    for code in ranked[:limit]:
        why = sorted(reasons.get(code, {}).values(), key=lambda ge: -ge[0])
        entries = [e for _, e in why]
        boosted = (code == PAEDIATRICS and child) or (code == OBSTETRICS and pregnancy)
        if boosted and asked_for_care:  # the symptoms, seen by the department for this person
            care = [m.entry for m in best.values() if m.entry.kind in ("child", "pregnancy")]
            care += [m.entry for m in best.values() if m.entry.kind == "symptom"]
            entries = list({e.key: e for e in care + entries}.values())
        suggestions.append(Suggestion(lexicon.targets[code], round(scores[code], 3), entries))
    return TriageResult(
        text=text,
        emergency=emergency,
        red_flags=[m.entry for m in best.values() if m.entry.kind == "red_flag"],
        child=child,
        pregnancy=pregnancy,
        suggestions=suggestions,
        matches=list(best.values()),
    )


def for_hospital(
    lexicon: Lexicon, result: TriageResult, available: set[str], *, limit: int = 3
) -> list[Suggestion]:
    """Suggestions a hospital can act on: a missing department gives way to its fallback.

    Services and the emergency department are always kept (120 reaches one everywhere); a
    department the hospital lacks, with no fallback it has, is left out. A fallback keeps the
    clinician type asked for (外科, 骨科医生).
    """
    out: dict[str, Suggestion] = {}
    for s in result.suggestions:
        target = s.target
        if target.kind == "department" and target.code not in available:
            fallback = lexicon.targets.get(target.fallback)
            if fallback is None or fallback.code not in available:
                continue
            target = Target(
                code=fallback.code,
                kind=fallback.kind,
                name_zh=fallback.name_zh,
                name_en=fallback.name_en,
                clinician_zh=target.clinician_zh,
                clinician_en=target.clinician_en,
            )
        if target.code in out:
            known = out[target.code]
            keys = {e.key for e in known.reasons}
            known.reasons += [e for e in s.reasons if e.key not in keys]
            continue
        out[target.code] = Suggestion(target, s.score, list(s.reasons))
    return list(out.values())[:limit]


# ---- measuring the lexicon --------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    text: str
    expected: tuple[str, ...]
    red_flag: bool


@dataclass
class Evaluation:
    phrases: int
    top3_hits: int
    red_flags: int
    red_flags_caught: int
    false_alarms: int
    misses: list[tuple[Phrase, list[str], bool]]

    @property
    def top3_accuracy(self) -> float:
        return self.top3_hits / self.phrases if self.phrases else 0.0

    @property
    def red_flag_recall(self) -> float:
        return self.red_flags_caught / self.red_flags if self.red_flags else 1.0


def read_phrases(path: Path) -> list[Phrase]:
    """Lines of `phrase<TAB>CODE|CODE[<TAB>red]`; `#` starts a comment line."""
    phrases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        red = len(cells) > 2 and cells[2].strip() == "red"
        phrases.append(Phrase(cells[0], tuple(cells[1].strip().split("|")), red))
    return phrases


def evaluate(lexicon: Lexicon, phrases: Sequence[Phrase]) -> Evaluation:
    """Top-3 accuracy over the phrases and the share of red-flag phrases answered as emergencies."""
    result = Evaluation(len(phrases), 0, 0, 0, 0, [])
    for phrase in phrases:
        answer = triage(lexicon, phrase.text)
        top3 = answer.top(3)
        hit = any(code in top3 for code in phrase.expected)
        result.top3_hits += hit
        if phrase.red_flag:
            result.red_flags += 1
            result.red_flags_caught += answer.emergency
        elif answer.emergency:
            result.false_alarms += 1
        if not hit or answer.emergency != phrase.red_flag:
            result.misses.append((phrase, top3, answer.emergency))
    return result
