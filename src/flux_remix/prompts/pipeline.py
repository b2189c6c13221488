"""The prompt pipeline: translate (off / auto / always) and enhance, with cache and fallback.

    prepare(text, mode, enhance, limit)
      enhance on  → the LLM rewrites the prompt into a detailed English one (cached);
                    on failure, go on as if enhance were off
      mode off    → the prompt as written
      mode auto   → English prompts as written (no LLM call); CJK prompts as below
      translate   → the LLM (cached), or the offline dictionary when the LLM fails, is
                    exhausted, breaks a weight or bracket, or when it is the configured translator

The outcome says which translator ran (`llm`, `dictionary`, `none`), whether the result came
from the cache, what the LLM call cost, and why a step was skipped or fell back.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Literal

from flux_remix import errors as e
from flux_remix.prompts import instructions as ask
from flux_remix.prompts.cache import PromptCache, cache_key
from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.dictionary import DictionaryTranslator
from flux_remix.prompts.llm import LLMAnswer, TextModel
from flux_remix.schemas import PromptOutcome
from flux_remix.settings import TranslateMode

log = logging.getLogger("flux_remix.prompts")

TranslatorChoice = Literal["llm", "dictionary"]


class PromptPipeline:
    def __init__(
        self,
        llm: TextModel | None,
        dictionary: DictionaryTranslator,
        cache: PromptCache,
    ) -> None:
        """`llm=None` makes the offline dictionary the translator (and enhancement unavailable)."""
        self.llm = llm
        self.dictionary = dictionary
        self.cache = cache

    @property
    def translator(self) -> TranslatorChoice:
        return "llm" if self.llm is not None else "dictionary"

    async def prepare(
        self, text: str, *, mode: TranslateMode, enhance: bool = False, limit: int = 2048
    ) -> PromptOutcome:
        """The prompt to send upstream for `text`; never raises for an LLM failure."""
        notes: list[str] = []
        if enhance:
            enhanced = await self._enhance(text, limit, notes)
            if enhanced is not None:
                return enhanced
        if mode == "off":
            return _as_written(text, notes, "translation off")
        if mode == "auto" and not has_cjk(text):
            return _as_written(text, notes, "already English")
        if self.llm is not None:
            translated = await self._translate(self.llm, text, mode, notes)
            if translated is not None:
                return translated
        return await self._offline(text, notes)

    # --- steps ------------------------------------------------------------------------------

    async def _enhance(self, text: str, limit: int, notes: list[str]) -> PromptOutcome | None:
        llm = self.llm
        if llm is None or not llm.can_enhance:
            notes.append("enhancement needs a chat LLM; the prompt was only translated")
            return None
        chars = ask.enhance_limit(limit)
        key = cache_key("enhance", text, "", llm.name, chars)
        cached = await self._cached(key)
        if cached is not None:
            return PromptOutcome(text, cached, "llm", has_cjk(text), enhanced=True, cached=True)
        answer = await self._ask(llm, ask.enhance_system(chars), text, ask.enhance_tokens(chars))
        if isinstance(answer, str):
            notes.append(f"enhancement failed ({answer})")
            return None
        final = ask.clean_answer(answer.text)
        if has_cjk(final):
            final = await self.dictionary.translate(final)
        if not final:
            notes.append("enhancement returned nothing")
            return None
        await self.cache.set(key, json.dumps({"final": final}))
        return PromptOutcome(
            text, final, "llm", has_cjk(text), enhanced=True, neurons=answer.neurons or 0.0
        )

    async def _translate(
        self, llm: TextModel, text: str, mode: TranslateMode, notes: list[str]
    ) -> PromptOutcome | None:
        key = cache_key("translate", text, mode, llm.name)
        cached = await self._cached(key)
        if cached is not None:
            return PromptOutcome(text, cached, "llm", True, _joined(notes), cached=True)
        answer = await self._ask(llm, ask.TRANSLATE_SYSTEM, text, ask.translate_tokens(text))
        if isinstance(answer, str):
            notes.append(f"LLM translation failed ({answer})")
            return None
        final = ask.clean_answer(answer.text)
        if not final:
            notes.append("the LLM returned nothing")
            return None
        if not ask.structure_kept(text, final):
            notes.append("the LLM changed weights or brackets")
            return None
        if has_cjk(final):  # a model that left words untranslated: finish them offline
            final = await self.dictionary.translate(final)
        await self.cache.set(key, json.dumps({"final": final}))
        neurons = answer.neurons or 0.0
        return PromptOutcome(text, final, "llm", True, _joined(notes), neurons=neurons)

    async def _offline(self, text: str, notes: list[str]) -> PromptOutcome:
        if not has_cjk(text):
            return _as_written(text, notes, "nothing for the offline dictionary to translate")
        final = await self.dictionary.translate(text)
        if not final:
            return _as_written(text, notes, "the offline dictionary found no words")
        if self.llm is not None:
            notes.append("used the offline dictionary")
        return PromptOutcome(text, final, "dictionary", True, _joined(notes))

    async def _ask(self, llm: TextModel, system: str, user: str, tokens: int) -> LLMAnswer | str:
        """The LLM's answer, or why there is none (a short reason, never a secret)."""
        started = time.perf_counter()
        try:
            answer = await llm.complete(system, user, max_tokens=tokens)
        except (e.UpstreamError, e.NoCapacityError) as err:
            log.warning("prompt LLM %s failed: %s", llm.name, err.kind)
            return f"{err.kind}: {err.message}"
        log.debug("prompt LLM %s answered in %.0f ms", llm.name, _ms(started))
        return answer

    async def _cached(self, key: str) -> str | None:
        raw = await self.cache.get(key)
        if raw is None:
            return None
        try:
            value = json.loads(raw).get("final")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and value else None


def _as_written(text: str, notes: list[str], why: str) -> PromptOutcome:
    return PromptOutcome(text, text, "none", False, _joined([*notes, why]))


def _joined(notes: list[str]) -> str | None:
    return "; ".join(notes) or None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
