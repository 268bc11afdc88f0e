"""Measure plain-word triage on the phrase set: top-3 accuracy, red-flag recall, confusions.

    PYTHONPATH=. python bench/triage.py [phrases.tsv]

The last line is JSON: phrases, top3_accuracy, red_flag_recall (must be 1.0), false_alarms.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hospital.guide.triage import evaluate, read_phrases, shipped_lexicon

PHRASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "triage_phrases.tsv"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else PHRASES
    phrases = read_phrases(path)
    lexicon = shipped_lexicon()
    started = time.perf_counter()
    result = evaluate(lexicon, phrases)
    elapsed = time.perf_counter() - started
    print(f"phrases: {result.phrases} ({result.red_flags} red-flag)")
    print(f"top-3 accuracy: {result.top3_accuracy:.3f}")
    print(f"red-flag recall: {result.red_flag_recall:.3f}; false alarms: {result.false_alarms}")
    print(f"time per phrase: {elapsed / max(result.phrases, 1) * 1000:.2f} ms")
    print("confusions (phrase -> expected | top 3 | emergency):")
    for phrase, top3, emergency in result.misses:
        print(
            f"  {phrase.text!r} -> {'|'.join(phrase.expected)} | {' '.join(top3) or '-'} | {emergency}"
        )
    print(
        json.dumps(
            {
                "phrases": result.phrases,
                "top3_accuracy": round(result.top3_accuracy, 4),
                "red_flag_recall": round(result.red_flag_recall, 4),
                "false_alarms": result.false_alarms,
                "confusions": len(result.misses),
            }
        )
    )


if __name__ == "__main__":
    main()
