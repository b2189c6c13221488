"""PromptPipeline with a scripted LLM that records what it was asked (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from flux_remix import errors as e
from flux_remix.prompts.cache import MemoryPromptCache
from flux_remix.prompts.dictionary import shared_dictionary
from flux_remix.prompts.llm import LLMAnswer
from flux_remix.prompts.pipeline import PromptPipeline


@dataclass
class ScriptedLLM:
    """Answers from a script (a string, or an exception to raise) and records each request."""

    answers: list[str | Exception]
    name: str = "@cf/test/scripted"
    can_enhance: bool = True
    asked: list[tuple[str, str, int]] = field(default_factory=list)

    async def complete(self, system: str, user: str, *, max_tokens: int) -> LLMAnswer:
        self.asked.append((system, user, max_tokens))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return LLMAnswer(answer, 2.5)


def pipeline(llm: ScriptedLLM | None, size: int = 16) -> PromptPipeline:
    return PromptPipeline(llm, shared_dictionary(), MemoryPromptCache(size))


async def test_auto_leaves_english_alone_without_an_llm_call():
    llm = ScriptedLLM([])
    out = await pipeline(llm).prepare("a red fox in snow", mode="auto")
    assert (out.final, out.translator, out.note) == ("a red fox in snow", "none", "already English")
    assert llm.asked == []


async def test_off_never_translates():
    llm = ScriptedLLM([])
    out = await pipeline(llm).prepare("一只猫", mode="off")
    assert (out.final, out.translator, out.translated) == ("一只猫", "none", False)
    assert llm.asked == []


async def test_always_translates_english_too():
    llm = ScriptedLLM(["a red fox in snow"])
    out = await pipeline(llm).prepare("a red fox in snow", mode="always")
    assert out.translator == "llm" and len(llm.asked) == 1


async def test_llm_translation_is_cleaned_cached_and_charged():
    llm = ScriptedLLM(['<think>hmm</think>\nTranslation: "a cat at sunset"', "a cat at sunset"])
    p = pipeline(llm)
    first = await p.prepare("夕阳下的猫", mode="auto")
    assert (first.final, first.translator, first.cached, first.neurons) == (
        "a cat at sunset",
        "llm",
        False,
        2.5,
    )
    system, user, max_tokens = llm.asked[0]
    assert user == "夕阳下的猫" and "English" in system and max_tokens >= 256
    again = await p.prepare("夕阳下的猫", mode="auto")
    assert (again.final, again.cached, again.neurons) == ("a cat at sunset", True, 0.0)
    assert len(llm.asked) == 1  # answered from the cache
    other_mode = await p.prepare("夕阳下的猫", mode="always")
    assert other_mode.cached is False  # the mode is part of the key
    assert len(llm.asked) == 2


@pytest.mark.parametrize(
    "failure",
    [
        e.UpstreamServerError("boom", status=500),
        e.QuotaExhaustedError("daily free allocation", status=429, code=4006),
        e.NoCapacityError("every account is busy", retry_after=30),
        e.UpstreamTimeoutError("too slow"),
    ],
)
async def test_llm_failure_falls_back_to_the_dictionary(failure):
    llm = ScriptedLLM([failure])
    out = await pipeline(llm).prepare("一只猫", mode="auto")
    assert (out.final, out.translator) == ("cat", "dictionary")
    assert out.note is not None and failure.kind in out.note
    assert "used the offline dictionary" in out.note


async def test_an_answer_that_breaks_weights_is_refused():
    llm = ScriptedLLM(["( masterpiece, 1, 2), best quality"])
    out = await pipeline(llm).prepare("(杰作:1.2), 最高画质", mode="auto")
    assert (out.final, out.translator) == ("(masterpiece:1.2), best quality", "dictionary")
    assert out.note is not None and "weights or brackets" in out.note


async def test_words_the_llm_left_in_chinese_are_finished_offline():
    llm = ScriptedLLM(["a cute 猫 at sunset"])
    out = await pipeline(llm).prepare("夕阳下可爱的猫", mode="auto")
    assert out.translator == "llm" and out.final == "a cute cat at sunset"


async def test_empty_answer_falls_back():
    llm = ScriptedLLM(["<think>only thoughts"])
    out = await pipeline(llm).prepare("一只猫", mode="auto")
    assert out.translator == "dictionary" and "returned nothing" in (out.note or "")


async def test_dictionary_as_the_configured_translator():
    out = await pipeline(None).prepare("一只猫", mode="auto")
    assert (out.final, out.translator, out.note) == ("cat", "dictionary", None)
    english = await pipeline(None).prepare("a cat", mode="always")
    assert english.translator == "none"


async def test_enhance_rewrites_once_and_caches():
    llm = ScriptedLLM(["a cat at sunset, warm light, oil painting, highly detailed"])
    p = pipeline(llm)
    out = await p.prepare("夕阳下的猫", mode="auto", enhance=True, limit=2048)
    assert out.enhanced and out.translator == "llm" and out.translated
    system, _, max_tokens = llm.asked[0]
    assert "enhance" in system.lower() and "1000 characters" in system
    assert max_tokens == 1000 // 3 + 64
    again = await p.prepare("夕阳下的猫", mode="auto", enhance=True, limit=2048)
    assert again.cached and again.final == out.final and len(llm.asked) == 1


async def test_enhance_respects_a_short_prompt_limit():
    llm = ScriptedLLM(["a cat"])
    await pipeline(llm).prepare("猫", mode="auto", enhance=True, limit=300)
    assert "300 characters" in llm.asked[0][0]


async def test_enhance_failure_still_translates():
    llm = ScriptedLLM([e.UpstreamServerError("boom"), "a cat"])
    out = await pipeline(llm).prepare("一只猫", mode="auto", enhance=True)
    assert (out.final, out.translator, out.enhanced) == ("a cat", "llm", False)
    assert "enhancement failed" in (out.note or "")


async def test_enhance_of_english_with_translation_off():
    llm = ScriptedLLM([e.UpstreamServerError("boom")])
    out = await pipeline(llm).prepare("a cat", mode="off", enhance=True)
    assert (out.final, out.translator) == ("a cat", "none")
    assert out.note is not None and out.note.startswith("enhancement failed")


async def test_translation_only_models_cannot_enhance():
    llm = ScriptedLLM(["a cat"], can_enhance=False)
    out = await pipeline(llm).prepare("一只猫", mode="auto", enhance=True)
    assert out.enhanced is False and out.final == "a cat"
    assert "needs a chat LLM" in (out.note or "")


async def test_cache_size_zero_keeps_nothing():
    llm = ScriptedLLM(["a cat", "a cat"])
    p = pipeline(llm, size=0)
    await p.prepare("一只猫", mode="auto")
    out = await p.prepare("一只猫", mode="auto")
    assert out.cached is False and len(llm.asked) == 2
