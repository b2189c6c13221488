"""Chinese → fluent English for the emulated text models, built on the offline dictionary.

The offline translator (prompts/dictionary.py) cuts a prompt into words with jieba and glosses
each from the image-prompt vocabulary and CC-CEDICT, giving keywords ("sunset, lighthouse"). A
real LLM gives a sentence ("a lighthouse under the sunset"). This module puts the same words in
that order with a few rules of Chinese prompt grammar, so the emulator answers like the real
thing and never drops a subject:

- `X下的Y`, `X里的Y`, …: the thing before 的 that ends in a place word describes where Y is:
  "Y under the X"; a verb phrase before 的 follows the head ("a girl wearing a red dress");
  anything else stays in front ("a cute cat").
- `S在X上V` and `S V在X上`: "S V on the X" (subject, action, then place).
- A lone `X下`: "under the X". A clause with a place in it, or counted (一只, 一碗), gets an
  article ("a", "an", "a bowl of"); keyword clauses ("夕阳", "柔和的光线") stay keywords.

Clauses are cut at commas and full stops and translated one by one; a clause with Latin text,
brackets or weights (`(杰作:1.2)`) is left to the dictionary, which keeps them where they were.
The output never contains CJK.
"""

from __future__ import annotations

import re

from flux_remix.prompts.dictionary import DictionaryTranslator, normalize, shared_dictionary, tidy
from flux_remix.prompts.vocabulary import CLASSIFIERS

_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PURE_CJK = re.compile("^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")
_CLAUSES = re.compile(r"[,;!?\n]+")  # after `normalize`, which turns 、。 into commas

# Place words (方位词) as English prepositions: `X下` is "under the X".
PLACES: dict[str, str] = {
    "下": "under",
    "底下": "under",
    "下面": "under",
    "下方": "below",
    "上": "on",
    "上面": "on",
    "上方": "above",
    "上空": "above",
    "里": "in",
    "里面": "in",
    "中": "in",
    "之中": "in",
    "当中": "in",
    "内": "inside",
    "外": "outside",
    "旁": "beside",
    "旁边": "beside",
    "边": "beside",
    "边上": "beside",
    "前": "in front of",
    "前面": "in front of",
    "后": "behind",
    "后面": "behind",
    "脚下": "at the foot of",
    "周围": "around",
    "之间": "between",
    "对面": "across from",
    "时": "at",  # time works the same way: 日落时的雪山 → "snowy mountains at sunset"
    "时分": "at",
    "时候": "at",
}
AT = frozenset({"在", "于"})
OF = frozenset({"的", "之"})
_COUNTED = {
    "一群": "a group of",
    "一对": "a pair of",
    "一双": "a pair of",
    "一碗": "a bowl of",
    "一杯": "a cup of",
    "一束": "a bunch of",
}


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


async def load() -> None:
    """Load the dictionary's data (once per process, in a worker thread)."""
    await shared_dictionary().load()


def translate(text: str) -> str:
    """Fluent English for a prompt: clause by clause, Latin text kept; never CJK."""
    return _Composer(shared_dictionary()).translate(text)


class _Composer:
    def __init__(self, dictionary: DictionaryTranslator) -> None:
        if not dictionary.loaded:
            dictionary.load_sync()
        self.dictionary = dictionary

    def translate(self, text: str) -> str:
        clauses = [c.strip() for c in _CLAUSES.split(normalize(text)) if c.strip()]
        out = [self.clause(c) if _PURE_CJK.match(c) else self.keywords(c) for c in clauses]
        english = tidy(_CJK.sub("", ", ".join(o for o in out if o)))
        return english or "an image"

    def keywords(self, text: str) -> str:
        """The dictionary's keywords for mixed text (weights and brackets kept)."""
        return self.dictionary.translate_sync(text)

    # --- one clause --------------------------------------------------------------------------

    def clause(self, text: str) -> str:
        words = self.words(text)
        article, words = _article(words)
        structured = any(w in AT or w in PLACES for w in words)
        if AT & set(words):
            english = self.located(words)
        elif words and words[-1] in PLACES and not OF & set(words):
            return f"{PLACES[words[-1]]} the {self.phrase(words[:-1])}".strip()
        else:
            english = self.phrase(words)
        if article or structured:
            english = _with_article(article or "a", english)
        return english

    def words(self, text: str) -> list[str]:
        """jieba's words, with a trailing place word cut off (窗台上 → 窗台 上) and 坐在 as
        坐在 在, so the grammar sees them."""
        out: list[str] = []
        for word in self.dictionary.segment(text):
            if len(word) >= 3 and word[-1] in PLACES and self.dictionary.known(word[:-1]):
                out += [word[:-1], word[-1]]
            elif len(word) == 2 and word[-1] in AT and self.is_verb(word):  # not 现在 "now"
                out += [word, word[-1]]
            else:
                out.append(word)
        return out

    def located(self, words: list[str]) -> str:
        """`S 在 X 上 V` / `S V在 X 上` → "S V on the X"."""
        at = next(i for i, w in enumerate(words) if w in AT)
        subject, rest = words[:at], words[at + 1 :]
        verbs: list[str] = []
        if subject and self.is_verb(subject[-1]):
            verbs.append(subject.pop())
        place_end = next((i for i, w in enumerate(rest) if w in PLACES), None)
        if place_end is None:
            place, preposition, after = rest, "at", []
        else:
            place, preposition, after = (
                rest[:place_end],
                PLACES[rest[place_end]],
                rest[place_end + 1 :],
            )
        parts = [self.phrase(subject), self.phrase(verbs + after)]
        if place:
            parts.append(f"{preposition} the {self.phrase(place)}")
        return " ".join(p for p in parts if p)

    def phrase(self, words: list[str]) -> str:
        """A noun phrase: split at its last 的 (modifier 的 head)."""
        if not words:
            return ""
        of = max((i for i, w in enumerate(words) if w in OF), default=None)
        if of is None:
            return self.plain(words)
        modifier, head = words[:of], words[of + 1 :]
        if not head:
            return self.phrase(modifier)
        if not modifier:
            return self.phrase(head)
        english = self.phrase(head)
        if modifier[0] in AT:
            modifier = modifier[1:]
        if modifier and modifier[-1] in PLACES:
            where = self.phrase(modifier[:-1])
            preposition = PLACES[modifier[-1]]
            the = "" if preposition == "at" else "the "
            return f"{english} {preposition} {the}{where}" if where else english
        if len(modifier) > 1 and self.is_verb(modifier[0]):  # 穿着红裙的女孩: "a girl wearing…"
            return f"{english} {self.phrase(modifier)}"
        return f"{self.phrase(modifier)} {english}"

    def plain(self, words: list[str]) -> str:
        """Words without grammar: the dictionary's keywords, as one phrase."""
        english = self.dictionary.translate_sync("".join(w for w in words if w not in PLACES))
        return english.replace(", ", " ")

    def is_verb(self, word: str) -> bool:
        """An action word: the vocabulary glosses actions with -ing (坐在 → "sitting")."""
        english = self.plain([word])
        return bool(english) and english.split()[0].endswith("ing")


def _article(words: list[str]) -> tuple[str | None, list[str]]:
    """A leading 一只 / 一群 as an article, taken off the words."""
    if words and words[0] in _COUNTED:
        return _COUNTED[words[0]], words[1:]
    if words and len(words[0]) == 2 and words[0][0] == "一" and words[0][1] in CLASSIFIERS:
        return "a", words[1:]
    return None, words


_LINKS = frozenset(" ".join(PLACES.values()).split())


def _with_article(article: str, english: str) -> str:
    words = english.lower().split()
    first = words[0] if words else ""
    if not first or first in ("a", "an", "the") or first[0].isdigit():
        return english
    following = [*words[1:], ""]
    head = next(  # the word before the first link ("under", "in") or action ("sitting")
        (w for w, n in zip(words, following, strict=True) if n in _LINKS or n.endswith("ing")),
        words[-1],
    )
    if article == "a" and head.endswith("s") and not head.endswith("ss"):
        return english  # plural: "snowy mountains at sunset"
    if article == "a" and first[0] in "aeiou":
        article = "an"
    return f"{article} {english}"
