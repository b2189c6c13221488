"""Scoring of a translation against the expected keywords in tests/data/prompts_zh.jsonl.

A keyword is a phrase, or alternatives separated by `|` (any one counts). A phrase is found
when each of its words appears in the translation as a word, ignoring case and a plural `s`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "prompts_zh.jsonl"
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[()\[\]:.]")


@dataclass(frozen=True)
class Case:
    prompt: str
    keywords: tuple[str, ...]


def load_cases(path: Path = DATA) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(Case(row["prompt"], tuple(row["keywords"])))
    return cases


def _stem(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower())}


def found(keyword: str, translation: str) -> bool:
    have = words(translation)
    lowered = translation.lower()
    for option in keyword.split("|"):
        option = option.strip().lower()
        if any(ch in option for ch in "()[]:"):  # weights and brackets must appear verbatim
            if option in lowered:
                return True
            continue
        if all(w in have for w in words(option)):
            return True
    return False


def missing(case: Case, translation: str) -> list[str]:
    return [k for k in case.keywords if not found(k, translation)]
