"""The offline translator: jieba segmentation + CC-CEDICT, Chinese prompts to English keywords.

No network and no model: a Chinese run is cut into words by jieba, each word becomes an English
keyword (the image-prompt vocabulary first, then CC-CEDICT, then its longest known parts), and
the keywords are joined with commas. Text that is not Chinese (English words, tags such as
`1girl`, weights such as `(…:1.2)` and brackets) is kept where it was, so `(杰作:1.2)` becomes
`(masterpiece:1.2)`. The output never contains CJK characters.

Loading jieba's and CC-CEDICT's data takes a few seconds and some 100 MB, so it happens once per
process, on first use, in a worker thread (`await dictionary.load()`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import flux_remix.prompts.vocabulary as v
from flux_remix.prompts.cedict import load_cedict

log = logging.getLogger("flux_remix.prompts")

_RUN = re.compile("([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+)")
_ANY_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_PUNCT = str.maketrans(
    {
        "、": ",",
        "。": ",",
        "《": '"',
        "》": '"',
        "「": '"',
        "」": '"',
        "『": '"',
        "』": '"',
        "【": "[",
        "】": "]",
        "〔": "(",
        "〕": ")",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "～": "~",
        "…": ",",
        "·": " ",
    }
)
_COMMAS = re.compile(r"\s*(?:,\s*)+")
_SPACES = re.compile(r"[ \t]+")
MAX_PART = 6  # longest dictionary word tried when splitting an unknown word

Kind = Literal["word", "modifier", "suffix", "particle"]


@dataclass(frozen=True)
class Piece:
    text: str
    kind: Kind


def normalize(text: str) -> str:
    """Full-width letters, digits and punctuation as ASCII; one line."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT)
    return " ".join(text.split())


class DictionaryTranslator:
    """Chinese → English keywords with jieba and CC-CEDICT; the data loads on first use."""

    def __init__(self) -> None:
        self._glossary: dict[str, str] = {}
        self._tokenizer: Any = None
        self._loaded = False
        self._thread_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded

    async def load(self) -> None:
        """Load the data once, in a worker thread, so the event loop keeps serving."""
        if not self._loaded:  # concurrent callers wait on the thread lock, not the loop
            await asyncio.to_thread(self.load_sync)

    def load_sync(self) -> None:
        with self._thread_lock:
            if self._loaded:
                return
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            for word in v.TERMS:
                if len(word) > 1:
                    tokenizer.add_word(word)
            self._glossary = load_cedict()
            self._tokenizer = tokenizer
            self._loaded = True
            log.info("offline dictionary loaded: %d CC-CEDICT headwords", len(self._glossary))

    async def translate(self, text: str) -> str:
        """English keywords for `text` (loads the data first if needed); never contains CJK."""
        await self.load()
        return await asyncio.to_thread(self.translate_sync, text)

    def translate_sync(self, text: str) -> str:
        if not self._loaded:
            self.load_sync()
        parts: list[str] = []
        after_run = False  # the last part is a translated Chinese run
        for i, chunk in enumerate(_RUN.split(normalize(text))):
            if not chunk:
                continue
            if i % 2 == 0:  # text between Chinese runs stays as it was
                if after_run and chunk[0].isalnum():
                    parts.append(", ")
                parts.append(chunk)
                after_run = False
                continue
            english = ", ".join(self._keywords(chunk))
            if not english:
                continue
            if parts and parts[-1][-1].isalnum():
                parts.append(", ")
            parts.append(english)
            after_run = True
        return tidy(_ANY_CJK.sub("", "".join(parts)))

    # --- words -------------------------------------------------------------------------------

    def segment(self, run: str) -> list[str]:
        """A Chinese run cut into words, the way `translate_sync` cuts it."""
        if not self._loaded:
            self.load_sync()
        return list(self._tokenizer.cut(run, HMM=False))

    def known(self, word: str) -> bool:
        """Whether `word` has a gloss of its own (vocabulary or CC-CEDICT)."""
        if not self._loaded:
            self.load_sync()
        return self._known(word)

    def _known(self, word: str) -> bool:
        return (
            word in v.TERMS
            or word in v.DROP
            or word in v.PARTICLES
            or word in v.SUFFIXES
            or v.numeral_phrase(word) is not None
            or word in self._glossary
        )

    def pieces(self, word: str) -> list[Piece]:
        """The English pieces of one segmented word."""
        if word in v.DROP:
            return []
        if word in v.PARTICLES:
            return [Piece("", "particle")]
        if word in v.SUFFIXES:
            return [Piece(v.SUFFIXES[word], "suffix")]
        gloss = v.TERMS.get(word)
        if gloss is None:
            gloss = v.numeral_phrase(word)
        if gloss is None:
            gloss = self._glossary.get(word)
        if gloss is not None:
            if not gloss:
                return []
            return [Piece(gloss, "modifier" if v.is_modifier(word) else "word")]
        return list(self._split(word))

    def _split(self, word: str) -> Iterator[Piece]:
        """An unknown word as its longest known parts, left to right; unknown characters drop."""
        i = 0
        while i < len(word):
            for size in range(min(MAX_PART, len(word) - i), 0, -1):
                part = word[i : i + size]
                if self._known(part):
                    yield from self.pieces(part)
                    break
            else:
                size = 1
            i += size

    def _keywords(self, run: str) -> list[str]:
        """Keywords of one Chinese run: modifiers join the next word, suffixes the previous."""
        keywords: list[str] = []
        pending: list[str] = []
        for word in self._tokenizer.cut(run, HMM=False):
            for piece in self.pieces(word):
                if piece.kind == "particle":
                    if keywords and not pending:
                        pending.append(keywords.pop())
                elif piece.kind == "suffix":
                    if pending:
                        keywords.append(" ".join(pending))
                        pending = []
                    if keywords:
                        keywords[-1] = f"{keywords[-1]} {piece.text}"
                    else:
                        keywords.append(piece.text)
                elif piece.kind == "modifier":
                    pending.append(piece.text)
                else:
                    keywords.append(" ".join([*pending, piece.text]))
                    pending = []
        if pending:
            keywords.append(" ".join(pending))
        out: list[str] = []
        for keyword in keywords:
            if keyword not in out:
                out.append(keyword)
        return out


def tidy(text: str) -> str:
    """One comma per gap, single spaces, no leading or trailing separators."""
    text = _SPACES.sub(" ", text)
    text = _COMMAS.sub(", ", text)
    text = re.sub(r"([(\[])\s*,\s*", r"\1", text)
    text = re.sub(r"\s*,\s*([)\]:])", r"\1", text)
    return text.strip(" ,")


_shared: DictionaryTranslator | None = None
_shared_lock = threading.Lock()


def shared_dictionary() -> DictionaryTranslator:
    """The process-wide translator: its data is read-only and loaded once."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = DictionaryTranslator()
        return _shared
