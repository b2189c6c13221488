"""The offline translator on tests/data/prompts_zh.jsonl: coverage, no CJK, no network."""

from __future__ import annotations

import re
import socket

import pytest

from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.dictionary import DictionaryTranslator, shared_dictionary
from tests.prompts.keywords import found, load_cases, missing

MIN_COVERAGE = 0.80


@pytest.fixture(scope="module")
def offline() -> DictionaryTranslator:
    """A fresh translator loaded while every socket is refused: it needs no network."""

    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError("the offline translator opened a socket")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "socket", refuse)
        mp.setattr(socket, "create_connection", refuse)
        translator = DictionaryTranslator()
        translator.load_sync()
        outputs = [translator.translate_sync(c.prompt) for c in load_cases()]
    translator.outputs = outputs  # type: ignore[attr-defined]
    return translator


def test_the_data_set_is_large_and_well_formed():
    cases = load_cases()
    assert len(cases) >= 60
    assert all(has_cjk(c.prompt) and len(c.keywords) >= 3 for c in cases)
    assert sum(1 for c in cases if any(ch in c.prompt for ch in "()[]")) >= 3  # weights
    assert sum(1 for c in cases if re.search("[A-Za-z]{2,}", c.prompt)) >= 3  # mixed languages


def test_keyword_matching_rules():
    assert found("cat|kitten", "a cute kitten")
    assert found("long hair", "silver long hair") and found("eye", "red eyes")
    assert not found("cat", "category") and not found("oil painting", "oil")
    assert found("(masterpiece:1.2)", "(masterpiece:1.2), 1girl")
    assert not found("(masterpiece:1.2)", "masterpiece, 1, 2")


def test_offline_translator_covers_the_expected_keywords(offline):
    cases = load_cases()
    total = sum(len(c.keywords) for c in cases)
    misses = {c.prompt: missing(c, out) for c, out in zip(cases, offline.outputs, strict=True)}
    covered = total - sum(len(m) for m in misses.values())
    coverage = covered / total
    report = "\n".join(f"{p} -> {m}" for p, m in misses.items() if m)
    print(f"offline dictionary coverage: {coverage:.1%} ({covered}/{total})")
    assert coverage >= MIN_COVERAGE, f"coverage {coverage:.1%} < 80%; misses:\n{report}"


def test_offline_translator_leaves_no_cjk(offline):
    for case, out in zip(load_cases(), offline.outputs, strict=True):
        assert out and not has_cjk(out), (case.prompt, out)
        assert "\n" not in out and ",," not in out and not out.startswith(",")


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("(杰作:1.2), 最高画质, 1girl", "(masterpiece:1.2), best quality, 1girl"),
        ("[模糊]", "[blurry]"),
        ("masterpiece, 一只猫", "masterpiece, cat"),
        ("一只猫，在窗台上。", "cat, window sill"),
        ("穿着white dress的女孩", "wearing, white dress, girl"),
        ("红色眼睛", "red eyes"),
        ("油画风格", "oil painting style"),
        ("两只狗", "two, dog"),
        ("ＡＢＣ，猫", "ABC, cat"),
        ("8k, 超高清", "8k, ultra high definition"),
    ],
)
def test_structure_and_text_around_chinese_is_kept(prompt, expected):
    assert shared_dictionary().translate_sync(prompt) == expected


def test_unknown_scripts_are_dropped_not_passed_through():
    out = shared_dictionary().translate_sync("ねこ 고양이 猫")
    assert out == "cat"


async def test_async_translate_loads_in_a_thread_once():
    translator = shared_dictionary()
    assert await translator.translate("夕阳") == "sunset"
    assert translator.loaded
